// k6: the bare Fastify handler at the same arrival rate and duration as the service scenario.
import http from 'k6/http';
import { duration, rate } from '../lib/targets.js';

export const options = {
  discardResponseBodies: true,
  scenarios: {
    bare: {
      executor: 'constant-arrival-rate',
      rate: rate(100, 2000),
      timeUnit: '1s',
      duration: duration('10s', '60s'),
      preAllocatedVUs: 50,
      maxVUs: 500,
    },
  },
};

export default function () {
  http.get(`${__ENV.BASE_URL}/bare`);
}
