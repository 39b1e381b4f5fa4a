// The k6 options the fixed-rate benches share (per-core-open-loop.js, side-by-side.js): scenarios at
// a constant arrival rate, bodies discarded, and no redirect followed (a 302 is the answer measured,
// and its Location is not on this machine).
export function arrivalRate(rate, duration, extra = {}) {
  return {
    executor: 'constant-arrival-rate',
    rate,
    timeUnit: '1s',
    duration,
    preAllocatedVUs: 20,
    maxVUs: 200,
    ...extra,
  };
}

export function benchOptions(scenarios, extra = {}) {
  return { discardResponseBodies: true, maxRedirects: 0, scenarios, ...extra };
}
