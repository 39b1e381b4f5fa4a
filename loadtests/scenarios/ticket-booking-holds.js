// k6: ticket booking, holds alone on free seats (issue 16: ≥ 1,000 successful holds/s per core of
// the booking API, p95 < 20 ms). Every arrival is one hold of 1–2 seats nobody else asked for, by
// a buyer of its own (a token per hold), so the shipped per-user cap and rate limit stay on and
// never refuse one: what is measured is the hold path itself (token, rate limit, event cache,
// Redis seat locks, the Postgres transaction). Nothing else runs beside it.
//
//   BASE_URL=http://127.0.0.1:8085 k6 run -e PROFILE=smoke loadtests/scenarios/ticket-booking-holds.js
//   pnpm load ticket-booking-holds [--profile full] [--rate N | --capacity]
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { as, createEvent, RUN } from '../lib/booking.js';
import { setupDone, setupRequestCount } from '../lib/measured.js';
import { duration, errorRate, rate, target } from '../lib/targets.js';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1:8085';
const holdsOk = new Counter('booking_holds_ok');
const holdConflicts = new Counter('booking_hold_conflicts');

const run = duration('10s', '60s');
const HOLDS = rate(20, 300);
const seconds = (d) => Number.parseInt(d, 10) * (d.endsWith('m') ? 60 : 1);
/** 1.5 seats a hold on average, with room to spare; events of at most 50,000 seats each. */
const SEATS_NEEDED = Math.ceil(HOLDS * seconds(run) * 1.5 * 1.2) + 100;
const PER_EVENT = 50_000;

export const options = {
  setupTimeout: '5m',
  scenarios: {
    holds: {
      executor: 'constant-arrival-rate',
      rate: HOLDS,
      timeUnit: '1s',
      duration: run,
      preAllocatedVUs: Math.max(10, Math.ceil(HOLDS / 20)),
      maxVUs: Math.max(50, Math.ceil(HOLDS / 4)),
      exec: 'hold',
    },
  },
  thresholds: {
    ...setupRequestCount,
    'http_req_duration{name:hold}': [`p(95)<${target('ticket-booking', 'hold_free_seats_p95_ms')}`],
    // Every seat asked for is free: a 409 here is a failure, not contention.
    http_req_failed: [`rate<${errorRate}`],
    checks: ['rate>0.999'],
  },
};

// A hold answers 201; the set-up's reads answer 200.
http.setResponseCallback(http.expectedStatuses(200, 201));

export function setup() {
  const events = [];
  for (let left = SEATS_NEEDED, i = 0; left > 0; left -= PER_EVENT, i++) {
    const seats = Math.min(PER_EVENT, left);
    events.push(
      createEvent(BASE, {
        name: `Free Seats ${i}`,
        performer: `Hold Band ${i}`,
        rows: Math.ceil(seats / 100),
        seatsPerRow: 100,
      }),
    );
  }
  setupDone();
  return { events };
}

/** The n-th hold of the run takes 1–2 seats no earlier hold took: events in turn, seats in order. */
export function hold(data) {
  const n = exec.scenario.iterationInTest;
  const event = data.events[n % data.events.length];
  const offset = Math.floor(n / data.events.length) * 2;
  if (offset + 2 > event.seatCount) return;
  const seatIds =
    n % 2 === 0 ? [event.firstSeat + offset] : [event.firstSeat + offset, event.firstSeat + offset + 1];
  const res = http.post(`${BASE}/events/${event.id}/holds`, JSON.stringify({ seatIds }), {
    headers: { 'content-type': 'application/json', ...as(`k6-hold-${RUN}-${n}`) },
    tags: { name: 'hold' },
  });
  if (res.status === 201) holdsOk.add(1);
  if (res.status === 409) holdConflicts.add(1);
  check(res, { 'hold 201': (r) => r.status === 201 });
}
