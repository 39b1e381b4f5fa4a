// A closed-loop client for POST /v1/checks/batch: C connections, each with one call of N checks in
// flight. With a pid it reports the service's CPU per decision from /proc. Start the rate-limiter
// as `pnpm load` does (LOG_LEVEL=warn, no tracing, SDLAB_DEV_MODE=true), then:
//   node loadtests/bench/batch-closed-loop.mjs http://127.0.0.1:8082/v1/checks/batch 16 100 15 <pid>
// Prints decisions/s, calls/s, calls that were not entirely decided by Redis, latency per call,
// and the service's cores and µs of CPU per decision.
import { readFileSync } from 'node:fs';
import http from 'node:http';

const [url, conns = '16', size = '100', seconds = '10', pid] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conns) });
const run = Date.now().toString(36);
// 64 bodies of skewed keys (a few hot ones), built once.
const bodies = Array.from({ length: 64 }, () =>
  JSON.stringify({
    checks: Array.from({ length: Number(size) }, () => ({
      key: `b-${run}-${Math.floor(Math.random() ** 3 * 100_000)}`,
      rule: 'free',
      cost: 1,
    })),
  }),
);
const cpuMs = () => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
let decisions = 0;
let calls = 0;
let bad = 0;
const latencies = [];
const end = Date.now() + Number(seconds) * 1000;
const cpu0 = pid ? cpuMs() : 0;
const t0 = performance.now();
function one() {
  if (Date.now() > end) return Promise.resolve();
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => {
          latencies.push(performance.now() - started);
          calls++;
          if (res.statusCode === 200 && !/"source":"(?!redis")/.test(body)) decisions += Number(size);
          else bad++;
          resolve();
        });
      },
    );
    req.on('error', () => {
      bad++;
      resolve();
    });
    req.end(bodies[calls % 64]);
  }).then(one);
}
await Promise.all(Array.from({ length: Number(conns) }, one));
const wall = (performance.now() - t0) / 1000;
const used = pid ? cpuMs() - cpu0 : 0;
latencies.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    decisionsPerS: Math.round(decisions / wall),
    callsPerS: Math.round(calls / wall),
    bad,
    p50: latencies[Math.floor(latencies.length * 0.5)]?.toFixed(1),
    p99: latencies[Math.floor(latencies.length * 0.99)]?.toFixed(1),
    serviceCores: +(used / 1000 / wall).toFixed(2),
    usPerDecision: decisions ? +((used * 1000) / decisions).toFixed(2) : null,
  }),
);
