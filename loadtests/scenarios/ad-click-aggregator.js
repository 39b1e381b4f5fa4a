// k6: the ad click aggregator. Clicks on signed impressions at a constant arrival rate over a skewed
// ad set (a few ads take most clicks), queries of the roll-ups and top-K beside them, a freshness
// probe (click → visible in the query API) and the worker's consumer lag sampled over the run.
// Thresholds are the documented targets: ingest p95 < 100 ms, queries p95 < 500 ms [002:953],
// freshness < 30 s [004:690].
import { check, sleep } from 'k6';
import crypto from 'k6/crypto';
import http from 'k6/http';
import { Trend } from 'k6/metrics';
import { setupDone, setupRequestCount } from '../lib/measured.js';
import { duration, errorRate, profile, rate, target } from '../lib/targets.js';
import { zipfCumulative, zipfPick } from '../lib/zipf.js';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1:8084';
/** The worker's health/metrics port, for the consumer lag and the aggregator's throughput. */
const WORKER = __ENV.WORKER_URL || 'http://127.0.0.1:9484';
/** The service's IMPRESSION_KEY; the default is its public development key. */
const KEY = __ENV.IMPRESSION_KEY || 'sdlab-ad-click-dev-key-not-secret';
const ADS = profile === 'full' ? 500 : 50;
/** Zipf exponent: s = 1 puts a third of 500 ads' clicks on the top 10. */
const ZIPF_S = 1;
/** Share of clicks that repeat an earlier impression (a double click): answered 302, not counted. */
const REPEAT_SHARE = 0.02;
const RUN = duration('15s', '3m');

const freshness = new Trend('freshness_ms', true);
const consumerLag = new Trend('consumer_lag_messages');
/** Clicks the aggregator counted per second, from its counter between two lag samples. */
const aggregatorRate = new Trend('aggregator_counted_per_s');
let lastCounted;

// 302 is the answer a click is for; only 4xx/5xx count as failures.
http.setResponseCallback(http.expectedStatuses(200, 201, 302));

// Scenario names sort clicks first, so the runner's primary latency is the ingest's.
export const options = {
  discardResponseBodies: true,
  setupTimeout: '180s',
  scenarios: {
    clicks: {
      executor: 'constant-arrival-rate',
      exec: 'click',
      // full: a rate at which, on the reference 2-core machine with k6 on a core of its own, neither k6
      // nor the service is saturated: the capacity figure is the efficiency (loadtests/README.md).
      rate: rate(200, 1500),
      timeUnit: '1s',
      duration: RUN,
      // Allocated up front: a VU initialised mid-run costs the service CPU at the worst moment, and
      // arrivals that find no VU are dropped (the capacity search counts that as a break).
      preAllocatedVUs: profile === 'full' ? 60 : 20,
      maxVUs: 500,
    },
    queries: {
      executor: 'constant-arrival-rate',
      exec: 'query',
      rate: profile === 'full' ? 50 : 5,
      timeUnit: '1s',
      duration: RUN,
      preAllocatedVUs: 10,
      maxVUs: 100,
    },
    freshness: {
      executor: 'constant-vus',
      exec: 'probe',
      vus: 1,
      duration: RUN,
    },
    lag: {
      executor: 'constant-arrival-rate',
      exec: 'sampleLag',
      rate: 1,
      timeUnit: '2s',
      duration: RUN,
      preAllocatedVUs: 1,
    },
  },
  thresholds: {
    ...setupRequestCount,
    'http_req_duration{scenario:clicks}': [`p(95)<${target('ad-click-aggregator', 'ingest_p95_ms')}`],
    'http_req_duration{scenario:queries}': [`p(95)<${target('ad-click-aggregator', 'query_p95_ms')}`],
    freshness_ms: [`p(95)<${target('ad-click-aggregator', 'freshness_s') * 1000}`],
    http_req_failed: [`rate<${errorRate}`],
    // Exported counts, not targets: the runner reads the ingest API's own requests from them.
    'http_reqs{scenario:lag}': ['count>=0'],
  },
};

// The ads and stats API needs an advertiser's bearer token; the runner mints one with the
// development key (services run in development mode under pnpm load).
const AUTH = { authorization: `Bearer ${__ENV.ADS_TOKEN}` };
const json = { headers: { 'content-type': 'application/json', ...AUTH }, responseType: 'text' };

export function setup() {
  const run = Date.now().toString(36).slice(-6);
  const ads = [];
  for (let i = 0; i < ADS; i++) {
    const adId = `ld${run}-${i}`;
    const body = JSON.stringify({ adId, campaignId: `lc${run}`, targetUrl: `https://example.com/ad/${i}` });
    const response = http.post(`${BASE}/ads`, body, json);
    if (response.status !== 201) throw new Error(`setup ad ${i}: ${response.status} ${response.body}`);
    ads.push(adId);
  }
  const probe = `pr${run}`;
  const created = http.post(
    `${BASE}/ads`,
    JSON.stringify({ adId: probe, campaignId: `lc${run}`, targetUrl: 'https://example.com/probe' }),
    json,
  );
  if (created.status !== 201) throw new Error(`setup probe: ${created.status} ${created.body}`);
  const cumulative = zipfCumulative(ADS, ZIPF_S);
  setupDone();
  return {
    ads,
    campaign: `lc${run}`,
    probe,
    cumulative,
    startedAt: Date.now(),
  };
}

/** The ad server's job, done here with the same key: `<ad>.<campaign>.<issued, base-36 s>.<nonce>.<sig>`. */
function impression(adId, campaign, nonce) {
  const payload = `${adId}.${campaign}.${Math.floor(Date.now() / 1000).toString(36)}.${nonce}`;
  return `${payload}.${crypto.hmac('sha256', KEY, payload, 'base64rawurl').slice(0, 22)}`;
}

/** 8–16 characters of [A-Za-z0-9_-], unique per VU and iteration. */
function nonce(tag) {
  return `${tag}${__VU.toString(36)}_${__ITER.toString(36)}`.padEnd(8, '0').slice(0, 16);
}

let previous;
export function click(data) {
  let id;
  if (previous && Math.random() < REPEAT_SHARE) id = previous;
  else id = impression(data.ads[zipfPick(data.cumulative)], data.campaign, nonce('c'));
  previous = id;
  // The 302 itself is measured, not the advertiser's page.
  const response = http.get(`${BASE}/c/${id}`, { redirects: 0, tags: { name: 'GET /c/:impression' } });
  check(response, { 'click is 302': (r) => r.status === 302 });
}

export function query(data) {
  const now = Date.now();
  if (__ITER % 2 === 0) {
    const adId = data.ads[zipfPick(data.cumulative)];
    const from = new Date(now - 3_600_000).toISOString();
    const response = http.get(
      `${BASE}/ads/${adId}/clicks?granularity=minute&from=${from}&to=${new Date(now).toISOString()}`,
      { headers: AUTH, tags: { name: 'GET /ads/:adId/clicks' } },
    );
    check(response, { 'clicks query is 200': (r) => r.status === 200 });
  } else {
    const response = http.get(
      `${BASE}/top?granularity=minute&k=10&window=${new Date(now - 60_000).toISOString()}`,
      {
        headers: AUTH,
        tags: { name: 'GET /top' },
      },
    );
    check(response, { 'top-K is 200': (r) => r.status === 200 });
  }
}

function probeTotal(data) {
  const day = 86_400_000;
  const from = new Date(Math.floor(Date.now() / day) * day - day).toISOString();
  const to = new Date(Math.floor(Date.now() / day) * day + day).toISOString();
  const response = http.get(`${BASE}/ads/${data.probe}/clicks?granularity=day&from=${from}&to=${to}`, {
    headers: AUTH,
    responseType: 'text',
    tags: { name: 'freshness poll' },
  });
  return response.status === 200 ? response.json('total') : -1;
}

/** Click the probe ad, then poll its count until the click shows: the end-to-end freshness. */
export function probe(data) {
  const before = probeTotal(data);
  const started = Date.now();
  http.get(`${BASE}/c/${impression(data.probe, data.campaign, nonce('p'))}`, {
    redirects: 0,
    tags: { name: 'freshness click' },
  });
  while (Date.now() - started < 60_000) {
    if (probeTotal(data) > before) {
      freshness.add(Date.now() - started);
      break;
    }
    sleep(0.25);
  }
  sleep(1);
}

function metricSum(text, name) {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) total += Number(line.split(' ').pop());
  }
  return total;
}

export function sampleLag() {
  const response = http.get(`${WORKER}/metrics`, { responseType: 'text', tags: { name: 'worker metrics' } });
  if (response.status !== 200) return;
  consumerLag.add(metricSum(response.body, 'sdlab_adclick_aggregator_consumer_lag_messages'));
  const counted = {
    value: metricSum(response.body, 'sdlab_adclick_aggregator_counted_total'),
    at: Date.now(),
  };
  if (lastCounted)
    aggregatorRate.add(((counted.value - lastCounted.value) * 1000) / (counted.at - lastCounted.at));
  lastCounted = counted;
}

export function teardown(data) {
  const response = http.get(`${WORKER}/metrics`, { responseType: 'text' });
  if (response.status !== 200) return;
  const seconds = (Date.now() - data.startedAt) / 1000;
  const counted = metricSum(response.body, 'sdlab_adclick_aggregator_counted_total');
  console.log(
    `aggregator: ${counted} clicks counted in ${seconds.toFixed(0)} s (${(counted / seconds).toFixed(0)} clicks/s), ` +
      `lag now ${metricSum(response.body, 'sdlab_adclick_aggregator_consumer_lag_messages')} messages`,
  );
}
