// k6: the rate-limit decision service. POST /v1/checks at a constant arrival rate over a skewed key
// set: a few keys (a popular user, a shared API key) take most of the traffic and run into their
// limit, the long tail stays under it, so both the admit and the deny path are measured.
// Thresholds are the documented targets: < 10 ms per check [002:484], error rate < 0.01% [001:676].
// A denied check is a 200 with `allowed: false`, so it is never counted as a failed request.
import { check } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { duration, errorRate, profile, rate, target } from '../lib/targets.js';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1:8082';
/** `free` (100/min per key, sliding-window counter) from config/rules.yaml unless told otherwise. */
const RULE = __ENV.RULE || 'free';
const KEYS = profile === 'full' ? 100_000 : 10_000;
/** Zipf exponent: s = 1.1 puts roughly a third of the traffic on the top 10 keys. */
const ZIPF_S = 1.1;
/** Distinct per run, so a run never starts on the counts an earlier one left. */
const RUN = __ENV.RUN_ID || Date.now().toString(36);
/**
 * `BATCH=n` (pnpm load rate-limiter --batch n): each arrival is one batch call of n checks, and
 * p99 < 10 ms is then per call — every decision in it was answered within the documented time.
 */
const BATCH = Number(__ENV.BATCH) || 0;

export const options = {
  // The checks read the status and headers only; not keeping bodies saves k6 CPU on the same cores.
  discardResponseBodies: true,
  scenarios: {
    checks: {
      executor: 'constant-arrival-rate',
      exec: 'decide',
      // full: a rate at which, on the reference 2-core machine with k6 on a core of its own, neither k6
      // nor the service is saturated: the capacity figure is the efficiency (loadtests/README.md).
      // With BATCH, arrivals are batch calls: 5/s (smoke) or 10/s (full) of BATCH checks each.
      rate: BATCH ? rate(5, 10) : rate(200, 2000),
      timeUnit: '1s',
      duration: duration('10s', '3m'),
      // A check takes about a millisecond: a few VUs carry thousands per second, and each VU
      // k6 keeps costs it memory and scheduling on the same cores.
      preAllocatedVUs: profile === 'full' ? 20 : 10,
      maxVUs: profile === 'full' ? 400 : 100,
    },
  },
  thresholds: {
    'http_req_duration{scenario:checks}': [`p(99)<${target('rate-limiter', 'check_p99_ms')}`],
    http_req_failed: [`rate<${errorRate}`],
    checks: ['rate>0.9999'],
  },
};

/**
 * A Zipf-like rank in 1..KEYS by inverting the continuous power law's CDF: O(1) per pick and no
 * per-VU table (a 100,000-entry table per VU cost k6 memory and start-up for every VU it grew).
 */
const ONE_MINUS_S = 1 - ZIPF_S;
const TOP = (KEYS + 1) ** ONE_MINUS_S - 1;
function pickRank() {
  const rank = Math.floor((TOP * Math.random() + 1) ** (1 / ONE_MINUS_S));
  return Math.min(rank, KEYS);
}

const params = { headers: { 'content-type': 'application/json' }, tags: { name: 'POST /v1/checks' } };
const batchParams = {
  headers: params.headers,
  tags: { name: 'POST /v1/checks/batch' },
  // The one place the body is read: every decision in the batch must come from Redis.
  responseType: 'text',
};
const decisions = new Counter('ratelimit_decisions');

export function decide() {
  if (BATCH > 0) return decideBatch();
  const body = JSON.stringify({ key: `k6-${RUN}-${pickRank()}`, rule: RULE, cost: 1 });
  const response = http.post(`${BASE}/v1/checks`, body, params);
  // One check per request (each is a metric sample k6 pays for): decided by Redis, headers sent.
  check(response, {
    'decided by redis, with RateLimit headers': (r) =>
      r.status === 200 && r.headers['X-Ratelimit-Source'] === 'redis' && r.headers.Ratelimit !== undefined,
  });
  if (response.status === 200) decisions.add(1);
}

/**
 * Batch bodies are built once per VU (a pool of them, each with its own Zipf-drawn keys): building
 * and serialising hundreds of checks per call in k6's JavaScript would measure k6, not the service.
 */
const BODY_POOL = BATCH > 0 ? 32 : 0;
const batchBodies = Array.from({ length: BODY_POOL }, () => {
  const checks = [];
  for (let i = 0; i < BATCH; i++) checks.push({ key: `k6-${RUN}-${pickRank()}`, rule: RULE, cost: 1 });
  return JSON.stringify({ checks });
});
const NOT_REDIS = /"source":"(?!redis")/;
const FROM_REDIS = /"source":"redis"/g;

function decideBatch() {
  const body = batchBodies[Math.floor(Math.random() * BODY_POOL)];
  const response = http.post(`${BASE}/v1/checks/batch`, body, batchParams);
  // Every decision is read without parsing the JSON: none came from anything but Redis, and
  // there is one per check.
  const ok = check(response, {
    'every decision in the batch by redis': (r) =>
      r.status === 200 && !NOT_REDIS.test(r.body) && (r.body.match(FROM_REDIS) || []).length === BATCH,
  });
  if (ok) decisions.add(BATCH);
}
