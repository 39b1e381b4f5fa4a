// k6: ticket booking. Search, hold and purchase at constant arrival rates (thresholds from the
// documented targets), plus a contention scenario: one hot event with the waiting room on, where
// buyers join, wait for admission and race for its seats.
//
// Needs the service, its worker and the payment provider running (see services/ticket-booking/README.md):
//   BASE_URL=http://127.0.0.1:8085 k6 run -e PROFILE=smoke loadtests/scenarios/ticket-booking.js
// Requests carry access tokens (HS256 JWTs) signed by ../lib/booking.js with the service's JWT
// settings: the development defaults, or JWT_SECRET / JWT_ISSUER / JWT_AUDIENCE of the deployment.
// For the contention scenario run the worker with a short admission interval
// (WAITING_ROOM_ADMIT_EVERY_MS=1000), so buyers are admitted within the scenario.
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import { ADMIN, as, createEvent, RUN } from '../lib/booking.js';
import { setupDone, setupRequestCount } from '../lib/measured.js';
import { duration, errorRate, profile, rate, target } from '../lib/targets.js';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1:8085';
const JSON_HEADERS = { 'content-type': 'application/json' };

const holdsOk = new Counter('booking_holds_ok');
const holdConflicts = new Counter('booking_hold_conflicts');
const purchasesOk = new Counter('booking_purchases_ok');
const admissionWait = new Trend('booking_waiting_room_wait_ms', true);
/** Catalogue change committed → found by search: the outbox relay, ES indexing and refresh. */
const indexLag = new Trend('booking_search_index_lag_ms', true);

const run = duration('20s', '2m');
/** Holds per second; RATE (the capacity search) sets it, and every other path keeps its share. */
// full: the highest rate one instance held on the reference 2-core machine (loadtests/README.md); --capacity finds yours.
const HOLDS = rate(10, 33);
/** The traffic mix per hold: browsing is the bulk, a fraction of holds turn into purchases. */
const MIX = { search: 2, hold: 1, purchase: 0.4, contention: 0.5 };
const arrival = (path, extra = {}) => {
  const perSecond = Math.max(1, Math.round(HOLDS * MIX[path]));
  return {
    executor: 'constant-arrival-rate',
    rate: perSecond,
    timeUnit: '1s',
    duration: run,
    preAllocatedVUs: Math.max(10, perSecond * 2),
    // A waiting-room user polls for up to 30 s, so that path needs VUs for 30 s of arrivals.
    maxVUs: Math.max(50, perSecond * (path === 'contention' ? 35 : 5)),
    exec: path,
    ...extra,
  };
};

export const options = {
  setupTimeout: '5m',
  scenarios: {
    search: arrival('search'),
    hold: arrival('hold'),
    purchase: arrival('purchase'),
    // One catalogue change at a time, then search until it shows: the end-to-end index lag.
    indexLag: {
      executor: 'constant-vus',
      exec: 'indexLagProbe',
      vus: 1,
      duration: run,
    },
    // Waiting-room users poll for up to 30 s: many VUs in flight at once.
    // Allocated up front: arrivals that find no VU are dropped, which the capacity search counts.
    contention: arrival('contention', {
      preAllocatedVUs: Math.max(50, Math.round(HOLDS * MIX.contention * 35)),
    }),
  },
  thresholds: {
    ...setupRequestCount,
    'http_req_duration{name:search}': [`p(95)<${target('ticket-booking', 'search_p95_ms')}`],
    'http_req_duration{name:hold}': [`p(95)<${target('ticket-booking', 'hold_p95_ms')}`],
    'http_req_duration{name:purchase}': [`p(95)<${target('ticket-booking', 'purchase_p95_ms')}`],
    booking_search_index_lag_ms: [`p(95)<${target('ticket-booking', 'index_lag_p95_s') * 1000}`],
    // 409 (seat taken), 402 (declined) and 403 (no token yet) are answers, not failures.
    http_req_failed: [`rate<${errorRate}`],
  },
};

// 409 seat taken and 402 declined are expected outcomes under contention, not errors.
http.setResponseCallback(http.expectedStatuses(200, 201, 202, 402, 409));

const WORDS = [
  'tour',
  'live',
  'festival',
  'derby',
  'hamlet',
  'jazz',
  'taylr',
  'orchestra',
  'comedy',
  'night',
];
const CITIES = ['Paris', 'Lyon', 'London', 'Berlin', 'Madrid'];

export function setup() {
  // Enough seats that holds mostly find free ones (a purchase keeps its seats for good).
  const arenaSize = profile === 'full' ? 100 : 20;
  const events = [];
  for (let i = 0; i < (profile === 'full' ? 10 : 3); i++) {
    events.push(
      createEvent(BASE, {
        name: `Load Test Tour ${i}`,
        performer: `Load Band ${i}`,
        venueName: `Load Arena ${i}`,
        city: CITIES[i % CITIES.length],
        rows: arenaSize,
        seatsPerRow: 100,
      }),
    );
  }
  const hot = createEvent(BASE, {
    name: 'Sold Out In Seconds',
    performer: 'The Hot Band',
    venueName: 'Hot Club',
    rows: 10,
    seatsPerRow: 20,
    waitingRoom: true,
  });
  const probe = createEvent(BASE, {
    name: 'Probe',
    performer: 'Index Lag',
    venueName: 'Probe Hall',
    rows: 1,
    seatsPerRow: 1,
  });
  setupDone();
  return { events, probe: probe.id, hot };
}

const pickSeats = (event, n) => {
  const start = event.firstSeat + Math.floor(Math.random() * (event.seatCount - n));
  return Array.from({ length: n }, (_, i) => start + i);
};
const userId = () => `k6-${RUN}-${exec.scenario.name}-${exec.vu.idInTest}-${exec.scenario.iterationInTest}`;

function hold(event, user, extraHeaders = {}) {
  const res = http.post(
    `${BASE}/events/${event.id}/holds`,
    JSON.stringify({ seatIds: pickSeats(event, 1 + Math.floor(Math.random() * 2)) }),
    {
      headers: { ...JSON_HEADERS, ...as(user), ...extraHeaders },
      tags: { name: 'hold' },
    },
  );
  if (res.status === 201) holdsOk.add(1);
  if (res.status === 409) holdConflicts.add(1);
  return res;
}

export function search() {
  const params = [`q=${WORDS[Math.floor(Math.random() * WORDS.length)]}`];
  if (Math.random() < 0.5) params.push(`city=${CITIES[Math.floor(Math.random() * CITIES.length)]}`);
  if (Math.random() < 0.3) params.push('sort=date');
  const res = http.get(`${BASE}/events/search?${params.join('&')}`, { tags: { name: 'search' } });
  check(res, { 'search 200': (r) => r.status === 200 });
}

export { holdScenario as hold };

function holdScenario(data) {
  const event = data.events[Math.floor(Math.random() * data.events.length)];
  const user = userId();
  const res = hold(event, user);
  check(res, { 'hold 201 or 409': (r) => r.status === 201 || r.status === 409 });
  // Give the seats back, so the run measures holds rather than a shrinking inventory.
  if (res.status === 201) {
    http.del(`${BASE}/holds/${res.json().hold.id}`, null, {
      headers: as(user),
      tags: { name: 'cancel' },
    });
  }
}

export function purchase(data) {
  const event = data.events[Math.floor(Math.random() * data.events.length)];
  const user = userId();
  const held = hold(event, user);
  if (held.status !== 201) return;
  const res = http.post(
    `${BASE}/holds/${held.json().hold.id}/purchase`,
    JSON.stringify({ paymentMethod: 'pm_card_visa' }),
    {
      headers: { ...JSON_HEADERS, ...as(user), 'idempotency-key': `k6-${held.json().hold.id}` },
      tags: { name: 'purchase' },
    },
  );
  if (res.status === 201) purchasesOk.add(1);
  check(res, { 'purchase answered': (r) => [201, 202, 402].includes(r.status) });
}

export function contention(data) {
  const user = userId();
  const started = Date.now();
  let state = http
    .post(`${BASE}/events/${data.hot.id}/waiting-room/join`, null, {
      headers: as(user),
      tags: { name: 'join' },
    })
    .json();
  for (let i = 0; i < 30 && state.status === 'waiting'; i++) {
    sleep(1);
    state = http
      .get(`${BASE}/events/${data.hot.id}/waiting-room/status`, {
        headers: as(user),
        tags: { name: 'status' },
      })
      .json();
  }
  if (state.status !== 'admitted') return;
  admissionWait.add(Date.now() - started);
  // The waiting room's pass: good for one hold.
  const res = hold(data.hot, user, { 'x-waiting-room-token': state.accessToken });
  check(res, { 'hot hold 201 or 409': (r) => r.status === 201 || r.status === 409 });
}

/** Renames the probe event with a fresh word and searches until the new name is found. */
export function indexLagProbe(data) {
  const word = `lagprobe${exec.scenario.iterationInTest}x${Date.now().toString(36)}`;
  const started = Date.now();
  const res = http.patch(`${BASE}/admin/events/${data.probe}`, JSON.stringify({ name: `Probe ${word}` }), {
    headers: ADMIN,
    tags: { name: 'probe update' },
  });
  if (res.status !== 200) return;
  for (let i = 0; i < 300; i++) {
    const found = http.get(`${BASE}/events/search?q=${word}`, { tags: { name: 'probe search' } });
    if (found.status === 200 && (found.json('data') ?? []).some((e) => e.id === data.probe)) {
      indexLag.add(Date.now() - started);
      break;
    }
    sleep(0.05);
  }
  sleep(1);
}
