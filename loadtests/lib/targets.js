// k6 side of targets.json: scenarios build their thresholds from the documented targets.
// `open` resolves relative to this file's directory in k6.
const targets = JSON.parse(open('../targets.json'));

/** The documented value for `service`'s `metric`, e.g. target('url-shortener', 'redirect_p95_ms'). */
export function target(service, metric) {
  const entry = targets[service]?.[metric];
  if (!entry) throw new Error(`no target ${service}.${metric} in loadtests/targets.json`);
  return entry.value;
}

export const errorRate = targets.error_rate.value;

/** `smoke` (seconds, low rate, thresholds still enforced) or `full` (the benchmark). */
export const profile = __ENV.PROFILE === 'full' ? 'full' : 'smoke';

/** Arrival rate per second: `__ENV.RATE` (set by the runner's capacity search) or the profile's. */
export function rate(smoke, full) {
  return Number(__ENV.RATE) || (profile === 'full' ? full : smoke);
}

/** Scenario duration: `__ENV.DURATION` or the profile's. */
export function duration(smoke, full) {
  return __ENV.DURATION || (profile === 'full' ? full : smoke);
}
