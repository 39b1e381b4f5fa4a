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
