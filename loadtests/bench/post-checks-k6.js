// k6 script of per-core-open-loop.sh: POST /v1/checks bodies (skewed keys over 100,000, rule free)
// at a constant arrival rate, as the runner's scenario sends them. URL, RATE (2000/s), DUR (10s).
import http from 'k6/http';

const run = String(Date.now());
export const options = {
  discardResponseBodies: true,
  scenarios: {
    checks: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 2000),
      timeUnit: '1s',
      duration: __ENV.DUR || '10s',
      preAllocatedVUs: 20,
      maxVUs: 200,
    },
  },
};
const params = { headers: { 'content-type': 'application/json' } };
export default function () {
  const rank = Math.floor(Math.random() ** 3 * 100000);
  http.post(__ENV.URL, `{"key":"k-${run}-${rank}","rule":"free","cost":1}`, params);
}
