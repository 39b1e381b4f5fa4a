// k6: the bare Fastify handler at the same arrival rate as the service scenario, with a request
// of the same shape (METHOD, BODY_BYTES of JSON) so k6 spends what it spends on the scenario's
// requests apart from the scenario's own logic. Kept lean on purpose: its k6 CPU per request is
// the floor a scenario's is compared with.
import http from 'k6/http';
import { duration, rate } from '../lib/targets.js';

const METHOD = __ENV.METHOD || 'GET';
const BODY_BYTES = Number(__ENV.BODY_BYTES) || 0;
const URL = `${__ENV.BASE_URL}/bare`;
const BODY = METHOD === 'POST' ? JSON.stringify({ pad: 'x'.repeat(Math.max(0, BODY_BYTES - 10)) }) : null;
const PARAMS = { headers: METHOD === 'POST' ? { 'content-type': 'application/json' } : {}, redirects: 0 };

// A 3xx is what a redirect-shaped bare answer is for.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 399 }));

export const options = {
  discardResponseBodies: true,
  scenarios: {
    bare: {
      executor: 'constant-arrival-rate',
      rate: rate(100, 2000),
      timeUnit: '1s',
      duration: duration('10s', '30s'),
      preAllocatedVUs: 20,
      maxVUs: 400,
    },
  },
  // Read when the kit's empty route runs this script as its scenario; the bare runs ignore it.
  thresholds: { 'http_req_duration{scenario:bare}': ['p(99)<10'] },
};

export default function () {
  if (METHOD === 'POST') http.post(URL, BODY, PARAMS);
  else http.get(URL, PARAMS);
}
