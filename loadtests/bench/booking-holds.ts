// `pnpm load:booking-holds [--mode free|contended|best-available] [--seats 50000] [--concurrency 64] [--seconds 15]
//                          [--purchase-share 0.3] [--cpu-prof DIR] [--pg-waits]`
// How many seat holds one booking instance makes when the client is not the limit: a closed loop
// in Node (each of `concurrency` buyers sends its next request when the last one is answered).
// Every hold acts for a buyer of its own, with a signed access token, so the per-user cap (5 open
// holds) and the per-user rate limit (20, then 1/s) stay at their shipped defaults and are never
// what refuses a hold.
//
//  - free: one event with `seats` seats; every buyer takes the next 1–2 untouched seats, so every
//    hold finds free seats (the hold path alone: auth, rate limit, event cache, Redis locks,
//    Postgres).
//  - contended: one hot event with `seats` seats; buyers pick 1–4 adjacent seats, mostly near the
//    front (quadratic skew), so they collide; `purchase-share` of the successful holds are bought
//    (the saga with the payment provider), the rest stay held. The stored data is then checked:
//    no seat in two open or confirmed holds, sold seats = the confirmed purchases' seats.
//  - best-available: the same hot event, purchases and checks, but buyers name no seats: each asks
//    `POST /events/{id}/holds/best-available` for 1–2 seats and the service picks free ones, so
//    buyers do not collide (refusals only once the event is sold out).
//
// Reports holds/s (successful), 409s/s, latency, and the CPU of the booking process, Postgres and
// Redis per successful hold. `--cpu-prof DIR` runs the booking process under `node --cpu-prof`;
// `--pg-waits` samples pg_stat_activity's wait events every 50 ms during the window.
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEV_JWT_ISSUER, DEV_JWT_SECRET, devToken, JwtIssuer } from '@sdlab/service-kit/auth';
import {
  createTestDatabase,
  dropTestDatabase,
  freePort,
  resolveEndpoints,
  uniqueId,
} from '@sdlab/testkit/infra';
import pg from 'pg';
import { machineCpuMs, processCpuMs, serverCpuMs } from '../src/cpu-usage.ts';
import { percentile } from '../src/efficiency.ts';
import { commit } from '../src/machine.ts';
import { assertPortFree, listeningAddress, type Running, startNode, waitReady } from '../src/processes.ts';
import { REPO_ROOT } from '../src/services.ts';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'free' },
    seats: { type: 'string', default: '50000' },
    concurrency: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    'purchase-share': { type: 'string', default: '0.3' },
    'cpu-prof': { type: 'string' },
    'pg-waits': { type: 'boolean', default: false },
    /** Leave the run's database in place (for EXPLAIN ANALYZE of the hold statements on its data). */
    'keep-db': { type: 'boolean', default: false },
    /** Skip the bare Fastify POST of the same shape run by the same client after the holds. */
    'skip-bare': { type: 'boolean', default: false },
    /** Extra environment for the booking process, e.g. PG_POOL_MAX=20 (repeatable). */
    env: { type: 'string', multiple: true, default: [] },
  },
});
const MODE = values.mode === 'contended' || values.mode === 'best-available' ? values.mode : 'free';
/** The modes on the hot event, with the payment provider and purchases. */
const HOT = MODE !== 'free';
const SEATS = Number(values.seats);
const CONCURRENCY = Number(values.concurrency);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const PURCHASE_SHARE = Number(values['purchase-share']);
// Ports the OS hands out, so two runs (or a run beside `pnpm load`) do not collide.
const BOOKING_PORT = await freePort();
let PROVIDER_PORT = await freePort();
while (PROVIDER_PORT === BOOKING_PORT) PROVIDER_PORT = await freePort();
const BASE = `http://127.0.0.1:${BOOKING_PORT}`;

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

/** One HTTP call over the keep-alive agent; the body is read as JSON when there is one. */
function call(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolveCall, reject) => {
    const req = request(
      path.startsWith('http') ? path : `${BASE}${path}`,
      {
        method,
        agent,
        headers: payload ? { ...headers, 'content-type': 'application/json' } : headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            parsed = { raw: text };
          }
          resolveCall({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function main(): Promise<void> {
  const { endpoints, stop } = await resolveEndpoints();
  const run = uniqueId().slice(0, 8);
  const database = `load_booking_${run}`;
  const databaseUrl = await createTestDatabase(endpoints.postgres, database);
  const processes: Running[] = [];
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const logDir = join(REPO_ROOT, 'loadtests/results/logs');
  try {
    await assertPortFree(BOOKING_PORT);
    if (HOT) {
      await assertPortFree(PROVIDER_PORT);
      const provider = await startNode(
        `booking-bench-provider-${run}`,
        join(REPO_ROOT, 'services/payment-provider'),
        'src/main.ts',
        {
          NODE_ENV: 'production',
          SDLAB_DEV_MODE: 'true',
          LOG_LEVEL: 'warn',
          PORT: String(PROVIDER_PORT),
          DATABASE_URL: databaseUrl,
          WEBHOOK_URL: `${BASE}/webhooks/payments`,
        },
        logDir,
      );
      processes.push(provider);
      await waitReady(`http://127.0.0.1:${PROVIDER_PORT}/readyz`, provider);
    }
    const extraEnv = Object.fromEntries(
      values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    const booking = await startNode(
      `booking-bench-${run}`,
      join(REPO_ROOT, 'services/ticket-booking'),
      'src/main.ts',
      {
        NODE_ENV: 'production',
        SDLAB_DEV_MODE: 'true',
        LOG_LEVEL: 'warn',
        PORT: String(BOOKING_PORT),
        DATABASE_URL: databaseUrl,
        REDIS_URL: endpoints.redis,
        REDIS_KEY_PREFIX: `booking-bench-${run}:`,
        ELASTICSEARCH_URL: endpoints.elasticsearch,
        SEARCH_INDEX: `booking-bench-${run}`,
        PAYMENT_PROVIDER_URL: `http://127.0.0.1:${PROVIDER_PORT}`,
        // Creating the 50,000 seats of the event is one INSERT; on a busy shared machine it can
        // outlast the default 5 s statement timeout. Holds take milliseconds either way.
        PG_STATEMENT_TIMEOUT_MS: '30000',
        ...extraEnv,
      },
      logDir,
      values['cpu-prof'] ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${resolve(values['cpu-prof'])}`] } : {},
    );
    processes.push(booking);
    await waitReady(`${BASE}/readyz`, booking);

    const admin = { authorization: `Bearer ${await devToken('ticket-booking', ['admin'], 'bench-admin')}` };
    const venue = await call('POST', '/admin/venues', admin, {
      name: 'Bench Arena',
      city: 'Paris',
      sections: [{ name: 'Floor', rows: Math.ceil(SEATS / 1000), seatsPerRow: Math.min(SEATS, 1000) }],
    });
    if (venue.status !== 201) throw new Error(`venue: ${venue.status} ${JSON.stringify(venue.body)}`);
    const event = await call('POST', '/admin/events', admin, {
      venueId: venue.body.id,
      name: MODE === 'free' ? 'Bench Free Seats' : 'Bench Hot Event',
      performer: 'The Benchers',
      category: 'concert',
      startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      defaultPriceCents: 4500,
      waitingRoom: false,
    });
    if (event.status !== 201) throw new Error(`event: ${event.status} ${JSON.stringify(event.body)}`);
    const eventId = String(event.body.id);
    const { rows: range } = await pool.query<{ lo: string; hi: string; n: number }>(
      'SELECT min(id) AS lo, max(id) AS hi, count(*)::int AS n FROM booking.seats WHERE event_id = $1',
      [eventId],
    );
    const firstSeat = Number(range[0]!.lo);
    const seatCount = range[0]!.n;
    if (Number(range[0]!.hi) - firstSeat + 1 !== seatCount) throw new Error('seat ids are not contiguous');

    // One buyer per hold, each with a token of their own, minted before the clock starts.
    const expected = Math.ceil((MODE === 'free' ? 4000 : 6000) * (SECONDS + WARMUP));
    const issuer = new JwtIssuer({
      secret: DEV_JWT_SECRET,
      issuer: DEV_JWT_ISSUER,
      audience: 'ticket-booking',
    });
    const tokens: string[] = [];
    for (let i = 0; i < expected; i++) tokens.push((await issuer.issue(`bench-${run}-${i}`)).token);
    let nextBuyer = 0;
    let nextFreeSeat = 0;

    const latencies: number[] = [];
    const counts: Record<string, number> = {};
    const bump = (k: string) => {
      counts[k] = (counts[k] ?? 0) + 1;
    };
    let measuring = false;
    let running = true;
    const purchases: Promise<void>[] = [];

    /** The next hold's path and body: seats the buyer picks, or (best-available) how many. */
    const nextHold = (): { path: string; body: unknown } | undefined => {
      if (MODE === 'best-available') {
        return { path: `/events/${eventId}/holds/best-available`, body: { quantity: 1 + (nextBuyer % 2) } };
      }
      const seatIds = pickSeats();
      return seatIds && { path: `/events/${eventId}/holds`, body: { seatIds } };
    };

    const pickSeats = (): number[] | undefined => {
      if (MODE === 'free') {
        const size = 1 + (nextBuyer % 2);
        if (nextFreeSeat + size > seatCount) return undefined;
        const start = firstSeat + nextFreeSeat;
        nextFreeSeat += size;
        return Array.from({ length: size }, (_, i) => start + i);
      }
      const size = 1 + Math.floor(Math.random() * 4);
      // Most buyers want the front: a quadratic skew over the seat order.
      const r = Math.random();
      const start = firstSeat + Math.floor(r * r * (seatCount - size));
      return Array.from({ length: size }, (_, i) => start + i);
    };

    const purchase = async (holdId: string, auth: Record<string, string>) => {
      const res = await call(
        'POST',
        `/holds/${holdId}/purchase`,
        { ...auth, 'idempotency-key': randomUUID() },
        { paymentMethod: 'pm_card_visa' },
      );
      bump(`purchase_${res.status}`);
    };

    const buyer = async () => {
      while (running) {
        const i = nextBuyer++;
        const token = tokens[i];
        const ask = nextHold();
        if (!token || !ask) {
          bump('out_of_buyers_or_seats');
          return;
        }
        const auth = { authorization: `Bearer ${token}` };
        const started = performance.now();
        const res = await call('POST', ask.path, auth, ask.body);
        const ms = performance.now() - started;
        if (!measuring) continue;
        latencies.push(ms);
        bump(res.status === 201 ? 'held' : `hold_${res.status}_${String(res.body.code ?? '')}`);
        if (res.status === 201 && HOT && Math.random() < PURCHASE_SHARE) {
          purchases.push(purchase(String((res.body.hold as { id: string }).id), auth));
        }
      }
    };

    const buyers = Array.from({ length: CONCURRENCY }, () => buyer());
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    const bookingPid = booking.child.pid!;
    const waits: Record<string, number> = {};
    const waitPool = values['pg-waits'] ? new pg.Pool({ connectionString: databaseUrl, max: 1 }) : undefined;
    let sampling = true;
    const sampler = waitPool
      ? (async () => {
          while (sampling) {
            const { rows } = await waitPool.query<{ w: string; n: number }>(
              `SELECT state || coalesce(' ' || wait_event_type || ':' || wait_event, '') AS w, count(*)::int AS n
               FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                 AND backend_type = 'client backend' GROUP BY 1`,
            );
            for (const r of rows) waits[r.w] = (waits[r.w] ?? 0) + r.n;
            await new Promise((r) => setTimeout(r, 50));
          }
        })()
      : undefined;
    // Postgres CPU of this database's own backends (the server is shared with other work).
    const backendCpuMs = async () => {
      const { rows } = await pool.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`,
      );
      return rows.reduce((sum, r) => sum + (processCpuMs(r.pid) ?? 0), 0);
    };
    // Group commit: how many holds shared a hold's Postgres transaction, on average over the window.
    const batchSizes = async () => {
      const text = await (await fetch(`${BASE}/metrics`)).text();
      const read = (name: string) =>
        Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
      return {
        sum: read('sdlab_booking_hold_batch_size_sum'),
        count: read('sdlab_booking_hold_batch_size_count'),
      };
    };
    const batchesBefore = await batchSizes();
    const before = {
      booking: processCpuMs(bookingPid) ?? 0,
      postgres: await backendCpuMs(),
      servers: serverCpuMs(),
      machine: machineCpuMs(),
    };
    const t0 = performance.now();
    measuring = true;
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    measuring = false;
    const wallMs = performance.now() - t0;
    const after = {
      booking: processCpuMs(bookingPid) ?? 0,
      postgres: await backendCpuMs(),
      servers: serverCpuMs(),
      machine: machineCpuMs(),
    };
    const batchesAfter = await batchSizes();
    running = false;
    sampling = false;
    await Promise.all(buyers);
    await Promise.all(purchases);
    await sampler;
    await waitPool?.end();

    const held = counts.held ?? 0;
    const perS = (n: number) => (n * 1000) / wallMs;
    const cpuPerHoldUs = (ms: number) => ((ms * 1000) / Math.max(1, held)).toFixed(0);
    const bookingMs = after.booking - before.booking;
    // Backends that opened during the window count from zero; none closes (pools keep them).
    const pgMs = after.postgres - before.postgres;
    const redisMs = after.servers.redis! - before.servers.redis!;
    const total = after.machine.total - before.machine.total;
    latencies.sort((a, b) => a - b);

    // The stored data: no seat in two open or confirmed holds, sold = confirmed purchases' seats.
    const { rows: check } = await pool.query<{
      double_held: number;
      sold: number;
      sold_by_purchases: number;
      held: number;
      seats: number;
    }>(
      `SELECT
         (SELECT count(*)::int FROM (
            SELECT unnest(seat_ids) AS seat FROM booking.holds
            WHERE event_id = $1 AND status IN ('ACTIVE', 'CONFIRMING', 'CONFIRMED')
            GROUP BY 1 HAVING count(*) > 1) d) AS double_held,
         (SELECT count(*)::int FROM booking.seats WHERE event_id = $1 AND status = 'SOLD') AS sold,
         (SELECT coalesce(sum(cardinality(h.seat_ids)), 0)::int FROM booking.purchases p
            JOIN booking.holds h ON h.id = p.hold_id WHERE p.event_id = $1 AND p.status = 'CONFIRMED') AS sold_by_purchases,
         (SELECT count(*)::int FROM booking.seats WHERE event_id = $1 AND status = 'HELD') AS held,
         (SELECT count(*)::int FROM booking.seats WHERE event_id = $1) AS seats`,
      [eventId],
    );
    const data = check[0]!;
    const sound = data.double_held === 0 && data.sold === data.sold_by_purchases && data.sold <= data.seats;

    // The same client against a bare Fastify POST of the hold's shape (JSON body in, 201 with
    // ~300 B of JSON out, the same authorization header): what the framework alone costs here now.
    let bare: { perS: number; cpuUs: number } | undefined;
    if (!values['skip-bare']) {
      const handler = await startNode(
        `booking-bench-bare-${run}`,
        REPO_ROOT,
        'loadtests/limits/bare-fastify.ts',
        { BARE_STATUS: '201', BARE_RESPONSE_BYTES: '300' },
        logDir,
      );
      processes.push(handler);
      const url = `${await listeningAddress(handler)}/bare`;
      let done = 0;
      let go = true;
      const auth = { authorization: `Bearer ${tokens[0]}` };
      const loop = async () => {
        while (go) {
          await call('POST', url, auth, { seatIds: [firstSeat, firstSeat + 1] });
          done++;
        }
      };
      const loops = Array.from({ length: CONCURRENCY }, () => loop());
      await new Promise((r) => setTimeout(r, 2000));
      const [n0, c0, t] = [done, processCpuMs(handler.child.pid!) ?? 0, performance.now()];
      await new Promise((r) => setTimeout(r, Math.min(SECONDS, 10) * 1000));
      const [n1, c1, wall] = [done, processCpuMs(handler.child.pid!) ?? 0, performance.now() - t];
      go = false;
      await Promise.all(loops);
      bare = { perS: ((n1 - n0) * 1000) / wall, cpuUs: ((c1 - c0) * 1000) / Math.max(1, n1 - n0) };
    }

    const waitTotal = Object.values(waits).reduce((s, n) => s + n, 0);
    const waitText = Object.entries(waits)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([w, n]) => `${w} ${((n * 100) / Math.max(1, waitTotal)).toFixed(0)} %`)
      .join(', ');
    const date = new Date().toISOString();
    const text = [
      `# ticket-booking — closed-loop holds (${MODE}), ${date}`,
      '',
      `- commit \`${commit()}\`; command \`pnpm load:booking-holds --mode ${MODE} --seats ${SEATS} --concurrency ${CONCURRENCY} --seconds ${SECONDS}${HOT ? ` --purchase-share ${PURCHASE_SHARE}` : ''}${values.env.map((e) => ` --env ${e}`).join('')}\``,
      `- one booking API process (LOG_LEVEL=warn, no tracing, shipped limits: 5 open holds and 20-then-1/s per user; every hold by a buyer of its own)${HOT ? ' and the payment provider' : ''}; ${CONCURRENCY} buyers in a closed loop (Node, same machine), ${SECONDS} s measured after ${WARMUP} s of warm-up; ${seatCount.toLocaleString('en-US')} seats`,
      `- **${Math.round(perS(held)).toLocaleString('en-US')} successful holds/s**; hold latency p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p95 ${percentile(latencies, 0.95).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms`,
      `- answers: ${Object.entries(counts)
        .sort()
        .map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`)
        .join(', ')}`,
      `- cores: booking ${(bookingMs / wallMs).toFixed(2)}, Postgres (this database's backends) ${(pgMs / wallMs).toFixed(2)}, Redis (whole server, shared) ${(redisMs / wallMs).toFixed(2)}; machine ${total > 0 ? (((after.machine.busy - before.machine.busy) * 100) / total).toFixed(0) : 0} % busy (the client takes the rest)`,
      `- CPU per successful hold: booking ${cpuPerHoldUs(bookingMs)} µs (**${Math.round((held * 1000) / Math.max(1, bookingMs)).toLocaleString('en-US')} holds per core of the booking process**), Postgres ${cpuPerHoldUs(pgMs)} µs, Redis ${cpuPerHoldUs(redisMs)} µs`,
      ...(bare
        ? [
            `- bare Fastify POST of the same shape, same client, right after: ${Math.round(bare.perS).toLocaleString('en-US')} req/s at ${bare.cpuUs.toFixed(0)} µs CPU per request; **a successful hold costs the booking process ${((bookingMs * 1000) / Math.max(1, held) / Math.max(1, bare.cpuUs)).toFixed(1)}× a bare POST**`,
          ]
        : []),
      `- group commit: a hold shared its Postgres transaction with ${((batchesAfter.sum - batchesBefore.sum) / Math.max(1, batchesAfter.count - batchesBefore.count)).toFixed(1)} holds on average (sdlab_booking_hold_batch_size)`,
      ...(waitText ? [`- Postgres backends of this database, sampled every 50 ms: ${waitText}`] : []),
      `- stored data: ${data.seats} seats, ${data.held} held, ${data.sold} sold (${data.sold_by_purchases} in confirmed purchases); seats in two open or confirmed holds: ${data.double_held} → ${sound ? 'no double sale' : '**DOUBLE SALE**'}`,
      '',
    ].join('\n');
    process.stdout.write(text);
    if (!sound) process.exitCode = 1;
  } finally {
    await pool.end();
    for (const p of processes.reverse()) await p.stop();
    agent.destroy();
    if (values['keep-db']) process.stdout.write(`database kept: ${databaseUrl}\n`);
    else await dropTestDatabase(endpoints.postgres, database).catch(() => undefined);
    await stop?.();
  }
}

await main();
