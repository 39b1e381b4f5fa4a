// k6 script of per-core-open-loop.sh: requests to URL at a constant arrival rate (RATE, 2000/s) for
// DUR (10s). MODE (start-server.sh's server_mode): checks, POST /v1/checks bodies (skewed keys over
// 100,000, rule free) as the runner's scenario sends them; get, GET URL; ids, GET URL<id> with the
// next line of IDS_FILE, each id once (a first click; running out fails the run).
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import http from 'k6/http';
import { arrivalRate, benchOptions } from './arrival-rate.js';

const mode = __ENV.MODE || 'checks';
const run = String(Date.now());
export const options = benchOptions({ run: arrivalRate(Number(__ENV.RATE || 2000), __ENV.DUR || '10s') });
const ids =
  mode === 'ids' ? new SharedArray('ids', () => open(__ENV.IDS_FILE).split('\n').filter(Boolean)) : [];
const params = { headers: { 'content-type': 'application/json' } };

export default function () {
  if (mode === 'checks') {
    const rank = Math.floor(Math.random() ** 3 * 100000);
    http.post(__ENV.URL, `{"key":"k-${run}-${rank}","rule":"free","cost":1}`, params);
  } else if (mode === 'ids') {
    const i = exec.scenario.iterationInTest;
    if (i >= ids.length) exec.test.abort(`${ids.length} ids used up`);
    http.get(`${__ENV.URL}${ids[i]}`);
  } else {
    http.get(__ENV.URL);
  }
}
