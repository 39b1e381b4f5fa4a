import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { devToken } from '@sdlab/service-kit/auth';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * What one request of a service's main path looks like on the wire, so the bare handler it is
 * measured against answers the same shape: method, request body size, status, response body
 * size (approximate, JSON). `ws` is the chat shape: sockets in pairs, a JSON frame in, an ack back
 * and a frame out to the peer.
 */
export type BareShape =
  | { kind: 'http'; method: 'GET' | 'POST'; status: number; requestBytes: number; responseBytes: number }
  | { kind: 'ws' };

/** What the runner needs to know to benchmark one service. */
export interface ServiceUnderTest {
  name: string;
  /** Processes to start from the service folder, each with the port its health endpoint answers on. */
  processes: { entry: string; port: number; dir?: string; env?: Record<string, string> }[];
  /** A fresh database is created per run when the service uses Postgres. */
  postgres: boolean;
  /** The documented fleet-wide throughput (key in targets.json) this run is compared with, if any. */
  throughputTarget?: string;
  /** Whose section of targets.json that key is in, when it is not this entry's name (a scenario of a service). */
  targetsOf?: string;
  /** The k6 script, relative to loadtests/ (default: scenarios/<name>.js). */
  scenario?: string;
  /** The k6 metric whose p95 is compared with the bare handler's (the path the throughput is about). */
  primaryMetric: string;
  /** A k6 counter whose rate is the throughput, where that is not HTTP requests (e.g. messages). */
  throughputMetric?: string;
  /** Also measure raw Redis EVALSHA as this path's limit (a limiter decision is one script call). */
  redisLimit?: boolean;
  /** Custom k6 metrics reported beside the thresholds (counts, rates, trends). */
  measures?: string[];
  /** What RATE and the throughput count, when not HTTP requests per second. */
  unit?: string;
  /** What RATE counts when it differs from the throughput's unit (batch calls of many checks). */
  rateUnit?: string;
  /** Extra variables for the k6 scenario (e.g. a second instance's address). */
  k6Env?: Record<string, string>;
  /** The main path's request shape, for the bare handler it is read against. */
  shape: BareShape;
  /** What the efficiency figure is per: the main path's name (`GET /:code`, `POST /v1/checks`). */
  hotPath: string;
  /**
   * The hot path's own process where others share the run (ad-click: the ingest API beside the
   * aggregation worker): its CPU per request it served is read against the bare handler too. It
   * served the measured requests less those counted by `elsewhere` (k6 `http_reqs{...}`
   * submetrics the scenario exports through a `count>=0` threshold).
   */
  hotProcess?: { index: number; elsewhere: string[]; served: string };
}

const urlShortener: ServiceUnderTest = {
  name: 'url-shortener',
  processes: [
    // One k6 client creates every link: a per-client create limit sized for a crowd of clients,
    // so setup() is not paced by it (creates still pass through the limiter).
    { entry: 'src/main.ts', port: 8081, env: { CREATE_LIMIT_CAPACITY: '100000' } },
    { entry: 'src/worker.ts', port: 9481 },
  ],
  postgres: true,
  throughputTarget: 'redirect_rps',
  primaryMetric: 'http_req_duration{scenario:redirects}',
  // A 302 with a Location header and no body; the creates beside it are 1 % of the requests.
  shape: { kind: 'http', method: 'GET', status: 302, requestBytes: 0, responseBytes: 0 },
  hotPath: 'GET /:code (302), with creates at 1 %',
  // The goal names the redirect with its click event produced: the API alone, beside the worker
  // that counts the clicks. Every request of the scenario reaches the API (creates included).
  hotProcess: { index: 0, elsewhere: [], served: 'redirects and the 1 % creates' },
};

export const SERVICES: ServiceUnderTest[] = [
  {
    // Not a service: what the kit alone costs. An empty route on createService(), read against the
    // bare Fastify handler of the same shape (project goal: >= 0.9x per core).
    name: 'service-kit',
    processes: [{ dir: '../loadtests', entry: 'limits/kit-empty.ts', port: 8089 }],
    postgres: false,
    scenario: 'limits/bare.js',
    primaryMetric: 'http_req_duration{scenario:bare}',
    k6Env: { METHOD: 'GET' },
    shape: { kind: 'http', method: 'GET', status: 200, requestBytes: 0, responseBytes: 11 },
    hotPath: 'an empty route on the service kit (request id, hooks, RED metrics, problem+json, draining)',
  },
  urlShortener,
  {
    // The issue 16 goal's path: `GET /:code` on a cache hit with its click event produced, and no
    // creates beside it (each costs the API ~1 ms of CPU, divided over the redirects above).
    ...urlShortener,
    name: 'url-shortener-redirects',
    processes: urlShortener.processes.map((p) => ({ ...p, dir: 'url-shortener' })),
    targetsOf: 'url-shortener',
    scenario: 'scenarios/url-shortener.js',
    k6Env: { CREATES: 'off' },
    hotPath: 'GET /:code (302) on a cache hit, redirects alone',
    hotProcess: { index: 0, elsewhere: [], served: 'cache-hit redirects alone' },
  },
  {
    name: 'rate-limiter',
    processes: [{ entry: 'src/main.ts', port: 8082 }],
    postgres: false,
    throughputTarget: 'check_rps',
    primaryMetric: 'http_req_duration{scenario:checks}',
    redisLimit: true,
    // {"key":"k6-<run>-<rank>","rule":"free","cost":1} -> {"allowed":..,"remaining":..,...}
    shape: { kind: 'http', method: 'POST', status: 200, requestBytes: 50, responseBytes: 110 },
    hotPath: 'POST /v1/checks',
  },
  {
    name: 'chat-gateway',
    processes: [
      { entry: 'src/main.ts', port: 8083, env: { INSTANCE_ID: 'gw-1' } },
      { entry: 'src/main.ts', port: 8093, env: { INSTANCE_ID: 'gw-2' } },
    ],
    postgres: true,
    throughputTarget: 'messages_per_s',
    primaryMetric: 'chat_delivery_ms',
    throughputMetric: 'chat_messages_delivered',
    unit: 'msg/s',
    measures: [
      'chat_messages_sent',
      'chat_messages_delivered',
      'chat_ack_ms',
      'chat_group_deliveries',
      'chat_group_fanout_ms',
      'chat_connections_opened',
      'chat_gateway_open_sockets',
      'chat_gateway_kb_per_socket',
      'chat_gateway_heap_kb_per_socket',
    ],
    k6Env: { BASE_URL_2: 'http://127.0.0.1:8093' },
    shape: { kind: 'ws' },
    hotPath: 'a 1:1 message across two gateways (send, ack, deliver)',
  },
  {
    name: 'ad-click-aggregator',
    processes: [
      { entry: 'src/main.ts', port: 8084 },
      { entry: 'src/worker.ts', port: 9484 },
    ],
    postgres: true,
    throughputTarget: 'clicks_per_s',
    primaryMetric: 'http_req_duration{scenario:clicks}',
    measures: ['consumer_lag_messages', 'freshness_ms', 'aggregator_counted_per_s'],
    // The click redirect: a 302 to the ad's landing page.
    shape: { kind: 'http', method: 'GET', status: 302, requestBytes: 0, responseBytes: 0 },
    hotPath: 'GET /c/:impression (302), aggregation worker included',
    // Every request but the lag samples (the worker's /metrics) reaches the ingest API.
    hotProcess: {
      index: 0,
      elsewhere: ['http_reqs{scenario:lag}'],
      served: 'clicks, queries and freshness probes',
    },
    k6Env: { ADS_TOKEN: await devToken('sdlab-ads', ['advertiser']) },
  },
  {
    name: 'ticket-booking',
    processes: [
      { dir: 'payment-provider', entry: 'src/main.ts', port: 8086 },
      { entry: 'src/main.ts', port: 8085 },
      { entry: 'src/worker.ts', port: 9485 },
    ],
    postgres: true,
    throughputTarget: 'bookings_per_s',
    primaryMetric: 'http_req_duration{name:hold}',
    // RATE is the hold rate; search, purchase and the hot-event contention keep their share of it.
    unit: 'holds/s',
    throughputMetric: 'booking_holds_ok',
    measures: [
      'booking_holds_ok',
      'booking_hold_conflicts',
      'booking_purchases_ok',
      'booking_waiting_room_wait_ms',
      'booking_search_index_lag_ms',
    ],
    // A hold: {"seatIds":[..]} -> 201 with the hold (id, seats, expiry).
    shape: { kind: 'http', method: 'POST', status: 201, requestBytes: 40, responseBytes: 300 },
    hotPath: "successful hold, with the scenario's mix of searches, purchases and waiting room",
  },
  {
    // Holds alone on free seats (issue 16), each by a buyer of its own: the API alone, the first
    // process (the API's port is the first process's when every process names its dir).
    name: 'ticket-booking-holds',
    processes: [{ dir: 'ticket-booking', entry: 'src/main.ts', port: 8085 }],
    postgres: true,
    throughputTarget: 'bookings_per_s',
    targetsOf: 'ticket-booking',
    scenario: 'scenarios/ticket-booking-holds.js',
    primaryMetric: 'http_req_duration{name:hold}',
    unit: 'holds/s',
    throughputMetric: 'booking_holds_ok',
    measures: ['booking_holds_ok', 'booking_hold_conflicts'],
    shape: { kind: 'http', method: 'POST', status: 201, requestBytes: 40, responseBytes: 300 },
    hotPath: 'successful hold on free seats (holds alone)',
  },
  {
    // An on-sale rush on one hot event of 50,000 seats (issue 17): holds, retries after a 409,
    // purchases through the payment provider, cancels. The API first (see above).
    name: 'ticket-booking-contended',
    processes: [
      // setup() creates the 50,000-seat event in one request: one statement that may outlast the
      // shipped 5 s statement timeout on a busy 2-core machine. Holds are single-row statements.
      { dir: 'ticket-booking', entry: 'src/main.ts', port: 8085, env: { PG_STATEMENT_TIMEOUT_MS: '30000' } },
      { dir: 'payment-provider', entry: 'src/main.ts', port: 8086 },
    ],
    postgres: true,
    throughputTarget: 'bookings_per_s',
    targetsOf: 'ticket-booking',
    scenario: 'scenarios/ticket-booking-contended.js',
    primaryMetric: 'http_req_duration{name:hold}',
    unit: 'holds/s',
    rateUnit: 'buyers/s (up to 3 holds each)',
    throughputMetric: 'booking_holds_ok',
    measures: [
      'booking_holds_ok',
      'booking_hold_conflicts',
      'booking_purchases_ok',
      'booking_buyers_without_seats',
    ],
    shape: { kind: 'http', method: 'POST', status: 201, requestBytes: 40, responseBytes: 300 },
    hotPath: 'successful hold on a hot 50,000-seat event (with 409 retries, purchases and cancels)',
  },
];

export function scenarioPath(s: ServiceUnderTest): string {
  return `${REPO_ROOT}loadtests/${s.scenario ?? `scenarios/${s.name}.js`}`;
}

/** Services whose entry points and scenario exist in this checkout. */
export function availableServices(): ServiceUnderTest[] {
  return SERVICES.filter(
    (s) =>
      s.processes.every((p) => existsSync(`${REPO_ROOT}services/${p.dir ?? s.name}/${p.entry}`)) &&
      existsSync(scenarioPath(s)),
  );
}
