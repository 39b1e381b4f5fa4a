// k6 for side-by-side.sh: the same constant arrival rate (RATE/s) to three servers at once (A, B, C).
import http from 'k6/http';
import { arrivalRate, benchOptions } from './arrival-rate.js';

const scenario = (url) =>
  arrivalRate(Number(__ENV.RATE || 700), __ENV.DURATION || '12s', { exec: 'hit', env: { URL: url } });

export const options = benchOptions(
  { a: scenario(__ENV.A), b: scenario(__ENV.B), c: scenario(__ENV.C) },
  {
    // k6 exports a scenario's own request count only when a threshold names it.
    thresholds: {
      'http_reqs{scenario:a}': ['count>=0'],
      'http_reqs{scenario:b}': ['count>=0'],
      'http_reqs{scenario:c}': ['count>=0'],
    },
  },
);

export function hit() {
  http.get(`${__ENV.URL}/bare`);
}
