/**
 * Redis stops. Every service uses it, none stores its truth there: links, messages, clicks and
 * seats live in Postgres (and Kafka), so each service keeps its core path and says clearly what
 * it cannot do. When Redis comes back — empty on the native stack, which keeps no data — every
 * service is ready again and back to normal within seconds, with nothing lost or sold twice.
 */
import { Queue } from 'bullmq';
import { chatOutcome, chatToken, connectChat, directConversation } from '../chat-client.ts';
import { assert, call, expectProblem, expectStatus, mapLimit, query } from '../probe.ts';
import type { FaultScenario } from '../scenario.ts';
import {
  adClicks,
  checkReadyAgain,
  clickAd,
  clickRecorded,
  createAd,
  createEvent,
  createLink,
  expectAliveNotReady,
  expectReadiness,
  expectRedirect,
  hold,
  metric,
  roomStatus,
  runId,
} from '../services.ts';

const RECOVERY_MS = 20_000;
/** The worker admits a batch every 10 s (WAITING_ROOM_ADMIT_EVERY_MS), plus slack for a loaded machine. */
const ADMISSION_MS = 25_000;
/** A BullMQ connection retries at most every 20 s (its backoff), plus slack for a loaded machine. */
const SCHEDULES_MS = 30_000;

/**
 * The BullMQ job schedulers the services declare at start-up and again on every reconnect, named
 * as in their source (url-shortener src/domain/expiry-job.ts, chat-gateway src/domain/retention.ts,
 * ad-click-aggregator src/domain/reconcile-job.ts). Their keys are under the service's
 * REDIS_KEY_PREFIX (else its default) followed by `bull`.
 */
const SCHEDULES = {
  expiry: { defaultPrefix: 'shortener:', queue: 'shortener-expiry', id: 'expire-links' },
  retention: { defaultPrefix: 'chat:', queue: 'chat-retention', id: 'retention-sweep' },
  reconcile: { defaultPrefix: 'adclick:', queue: 'adclick-reconcile', id: 'reconcile-previous-day' },
} as const;

type Schedule = (typeof SCHEDULES)[keyof typeof SCHEDULES];

/** Runs fn on the service's queue, read through BullMQ on the service's own Redis and prefix. */
async function onQueue<T>(
  env: Readonly<Record<string, string>>,
  schedule: Schedule,
  fn: (queue: Queue) => Promise<T>,
): Promise<T> {
  const queue = new Queue(schedule.queue, {
    connection: { url: env.REDIS_URL!, maxRetriesPerRequest: 1 },
    prefix: `${env.REDIS_KEY_PREFIX ?? schedule.defaultPrefix}bull`,
  });
  queue.on('error', () => undefined); // a failed read fails the check through its promise
  try {
    return await fn(queue);
  } finally {
    await queue.close();
  }
}

/**
 * The scheduler exists with the repeat options the service declares, was declared since `since`
 * (so it is not a leftover: Redis came back empty), and the job for its next run is queued.
 */
async function expectScheduled(
  queue: Queue,
  id: string,
  repeat: { every: number } | { pattern: string; tz: string },
  since: number,
) {
  const scheduler = await queue.getJobScheduler(id);
  assert(scheduler, `no job scheduler '${id}' in ${queue.qualifiedName}`);
  for (const [option, value] of Object.entries(repeat)) {
    const actual = (scheduler as unknown as Record<string, unknown>)[option];
    assert(actual === value, `scheduler '${id}': ${option} ${actual}, declared ${value}`);
  }
  assert(
    scheduler.next !== undefined && scheduler.next >= since,
    `scheduler '${id}': next run ${scheduler.next}, before Redis returned (${since})`,
  );
  const next = await queue.getJob(`repeat:${id}:${scheduler.next}`);
  assert(next, `scheduler '${id}': no job for its next run ${new Date(scheduler.next).toISOString()}`);
  return { scheduler, next };
}

/** Runs of the scheduler that completed since `since`. */
async function completedRuns(queue: Queue, id: string, since: number): Promise<number> {
  const jobs = await queue.getJobs(['completed'], 0, 200);
  return jobs.filter((job) => job.repeatJobKey === id && (job.finishedOn ?? 0) >= since).length;
}

export const scenario: FaultScenario = {
  name: 'redis-stopped',
  title: 'Redis stops; every service keeps its core path, then recovers when Redis returns',
  server: 'redis',
  services: [
    'url-shortener',
    'url-shortener-worker',
    'rate-limiter',
    'chat-gateway',
    'chat-gateway-2',
    'ad-click-aggregator',
    'ad-click-aggregator-worker',
    'ticket-booking',
    'ticket-booking-worker',
  ],
  async run(ctx) {
    const id = runId();
    const short = ctx.url('url-shortener');
    const limiter = ctx.url('rate-limiter');
    const gw1 = ctx.url('chat-gateway');
    const gw2 = ctx.url('chat-gateway-2');
    const ads = ctx.url('ad-click-aggregator');
    const booking = ctx.url('ticket-booking');
    const chatDb = ctx.env('chat-gateway').DATABASE_URL!;
    const adDb = ctx.env('ad-click-aggregator').DATABASE_URL!;
    const bookingDb = ctx.env('ticket-booking').DATABASE_URL!;

    // ---------------------------------------------------------------- before
    const warm = await createLink(short, `https://example.com/warm/${id}`);
    const cold = await createLink(short, `https://example.com/cold/${id}`);
    await ctx.check('before', 'url-shortener', 'links redirect (302)', async () => {
      await expectRedirect(short, warm.code, warm.url); // now in this instance's LRU and in Redis
    });
    await ctx.check('before', 'rate-limiter', 'Redis decides (X-RateLimit-Source: redis)', async () => {
      const answer = await call(`${limiter}/v1/checks`, { json: { key: `before-${id}`, rule: 'free' } });
      expectStatus(answer, 200, 'check');
      assert(
        answer.headers.get('x-ratelimit-source') === 'redis',
        `source ${answer.headers.get('x-ratelimit-source')}`,
      );
    });

    const [aliceToken, bobToken] = await Promise.all([
      chatToken(gw1, `alice-${id}`),
      chatToken(gw2, `bob-${id}`),
    ]);
    const conversation = await directConversation(gw1, aliceToken, `bob-${id}`);
    const alice = await connectChat(gw1, aliceToken);
    const bob = await connectChat(gw2, bobToken);
    const acked: string[] = [];
    try {
      await ctx.check(
        'before',
        'chat-gateway',
        'a message is acked and reaches the other instance live',
        async () => {
          const ack = await alice.send(conversation, 'hello before', `m-before-${id}`);
          assert(ack.type === 'ack', `answer ${JSON.stringify(ack)}`);
          acked.push(`m-before-${id}`);
          await bob.waitFor((f) => f.type === 'message' && f.clientMsgId === `m-before-${id}`);
        },
      );

      const adId = `fault-redis-${id}`;
      const impressions = await createAd(ads, adId, `https://shop.example.com/${id}`, 30);
      const recorded = { before: 0, during: 0, after: 0 };
      const click = async (impression: string) => (await clickAd(ads, impression)).outcome;
      await ctx.check('before', 'ad-click-aggregator', 'clicks redirect and are recorded', async () => {
        for (const impression of impressions.slice(0, 5)) {
          await clickRecorded(ads, impression);
          recorded.before++;
        }
      });

      const { eventId, seatIds } = await createEvent(booking, id, 20);
      const [s1, s2, s3, s4, contested, s10] = [
        seatIds[0]!,
        seatIds[1]!,
        seatIds[2]!,
        seatIds[3]!,
        seatIds[4]!,
        seatIds[9]!,
      ];
      await ctx.check('before', 'ticket-booking', 'a hold takes the Redis lock and the seats', async () => {
        expectStatus(await hold(booking, eventId, `alice-${id}`, [s1, s2]), 201, 'hold');
      });
      const room = (await createEvent(booking, `${id}-room`, 5, true)).eventId;
      await ctx.check(
        'before',
        'ticket-booking-worker',
        'the waiting room admits a joined user (admission tick, 10 s)',
        async () => {
          assert(
            (await roomStatus(booking, room, `early-${id}`, true)) === 'waiting',
            'not waiting after join',
          );
          await ctx.eventually(
            async () => {
              const status = await roomStatus(booking, room, `early-${id}`);
              assert(status === 'admitted', `still ${status}`);
            },
            ADMISSION_MS,
            500,
          );
        },
      );

      // ---------------------------------------------------------------- during
      await ctx.fault.stop();
      // Everything in Redis from here on was written after it came back (it returns empty): the
      // schedule checks below count from this moment. Counting from the end of fault.start() raced
      // the services, which can reconnect, re-declare and finish a first run before it returns.
      const redisStopped = Date.now();
      ctx.log('redis stopped');

      await ctx.check('during', 'url-shortener', 'cached links keep redirecting (302)', async () => {
        await expectRedirect(short, warm.code, warm.url);
      });
      await ctx.check(
        'during',
        'url-shortener',
        'uncached links still redirect, read from Postgres',
        async () => {
          await expectRedirect(short, cold.code, cold.url);
        },
      );
      let createdDuring: { code: string; url: string } | undefined;
      await ctx.check(
        'during',
        'url-shortener',
        'creates still succeed (ID block in hand, limiter falls back)',
        async () => {
          createdDuring = await createLink(short, `https://example.com/during/${id}`);
          await createLink(short, `https://example.com/alias/${id}`, `fault-${id}`);
        },
      );
      await ctx.check(
        'during',
        'url-shortener',
        'alive (healthz 200), not ready: readyz 503 names redis',
        async () => {
          await expectAliveNotReady(short, 'redis');
        },
      );

      await ctx.check(
        'during',
        'rate-limiter',
        'each rule answers by its failure policy, named in X-RateLimit-Source',
        async () => {
          const decide = async (rule: string, key: string, cost = 1) => {
            const answer = await call(`${limiter}/v1/checks`, { json: { key, rule, cost } });
            expectStatus(answer, 200, `check ${rule}`);
            return answer;
          };
          // Open the breaker first (5 failed calls), as traffic would.
          for (let i = 0; i < 6; i++) await decide('free', `warmup-${id}`);
          const open = await decide('pro', `open-${id}`);
          assert(
            open.headers.get('x-ratelimit-source') === 'fail-open',
            `pro: ${open.headers.get('x-ratelimit-source')}`,
          );
          assert((open.body as { allowed: boolean }).allowed, 'pro (fail-open) denied');
          const closed = await decide('strict', `closed-${id}`);
          assert(
            closed.headers.get('x-ratelimit-source') === 'fail-closed',
            `strict: ${closed.headers.get('x-ratelimit-source')}`,
          );
          assert(!(closed.body as { allowed: boolean }).allowed, 'strict (fail-closed) admitted');
          assert(closed.headers.get('retry-after') !== null, 'strict: no Retry-After on the denial');
          const local = await decide('free', `local-${id}`, 100);
          assert(
            local.headers.get('x-ratelimit-source') === 'local-fallback',
            `free: ${local.headers.get('x-ratelimit-source')}`,
          );
          assert((local.body as { allowed: boolean }).allowed, 'free: first 100 denied');
          const over = await decide('free', `local-${id}`, 1);
          assert(
            !(over.body as { allowed: boolean }).allowed,
            'free: the 101st unit of the minute was admitted by the fallback',
          );
        },
      );
      await ctx.check(
        'during',
        'rate-limiter',
        'decides without waiting on Redis: 50 checks, each < 100 ms',
        async () => {
          const times = await mapLimit(Array.from({ length: 50 }), 1, async (_, i) => {
            const answer = await call(`${limiter}/v1/checks`, {
              json: { key: `fast-${id}-${i % 5}`, rule: 'bucket' },
            });
            expectStatus(answer, 200, 'check');
            return answer.ms;
          });
          const slowest = Math.max(...times);
          assert(slowest < 100, `slowest decision took ${slowest.toFixed(1)} ms`);
        },
      );
      await ctx.check('during', 'rate-limiter', 'stays up: healthz 200, readyz 503 names redis', async () => {
        await expectAliveNotReady(limiter, 'redis');
      });

      await ctx.check(
        'during',
        'chat-gateway',
        'an open connection’s send is stored in Postgres and acked',
        async () => {
          const ack = await alice.send(conversation, 'hello during', `m-during-${id}`);
          assert(ack.type === 'ack', `answer ${JSON.stringify(ack)}`);
          acked.push(`m-during-${id}`);
          const rows = await query(
            chatDb,
            'SELECT seq::int AS seq FROM chat.messages WHERE conversation_id = $1 AND client_msg_id = $2',
            [conversation, `m-during-${id}`],
          );
          assert(
            rows.length === 1 && rows[0]!.seq === ack.seq,
            `stored ${JSON.stringify(rows)} vs ack seq ${ack.seq}`,
          );
        },
      );
      await ctx.check(
        'during',
        'chat-gateway-2',
        'the recipient on the other instance gets it by sync',
        async () => {
          await bob.sync(conversation, 0);
          const texts = bob.messages(conversation).map((m) => m.clientMsgId);
          assert(texts.includes(`m-during-${id}`), `bob holds ${texts.join(', ')}`);
        },
      );
      await ctx.check(
        'during',
        'chat-gateway',
        'a new connection is closed with 1011 (cannot register), not left hanging',
        async () => {
          const outcome = await chatOutcome(gw1, await chatToken(gw1, `carol-${id}`));
          assert(outcome === 1011, `new connection: ${outcome}`);
        },
      );

      await ctx.check(
        'during',
        'ad-click-aggregator',
        'clicks still redirect and are recorded (dedup fails open)',
        async () => {
          for (const impression of impressions.slice(5, 15)) {
            await clickRecorded(ads, impression);
            recorded.during++;
          }
        },
      );
      await ctx.check('during', 'ad-click-aggregator', 'readyz 503 names redis', async () => {
        await expectReadiness(ads, 503, 'redis');
      });

      const bypassBefore = await metric(booking, 'sdlab_booking_lock_bypass_total');
      await ctx.check(
        'during',
        'ticket-booking',
        'holds go on with Postgres alone (REDIS_FAILURE_POLICY=db-only)',
        async () => {
          expectStatus(await hold(booking, eventId, `bob-${id}`, [s3, s4]), 201, 'hold');
          const bypass = await metric(booking, 'sdlab_booking_lock_bypass_total');
          assert(bypass > bypassBefore, `sdlab_booking_lock_bypass_total stayed ${bypass}`);
        },
      );
      await ctx.check(
        'during',
        'ticket-booking',
        'a held seat is refused by Postgres: 409 problem+json naming it',
        async () => {
          const answer = await hold(booking, eventId, `carol-${id}`, [s2, seatIds[5]!]);
          expectProblem(answer, 409, 'SDLAB_BOOKING_SEATS_TAKEN', 'hold of a held seat');
          const taken = (answer.body as { takenSeatIds?: number[] }).takenSeatIds ?? [];
          assert(taken.includes(s2), `takenSeatIds ${JSON.stringify(taken)}`);
        },
      );
      await ctx.check(
        'during',
        'ticket-booking',
        '12 buyers racing for one seat: exactly one hold, 11 × 409',
        async () => {
          const answers = await mapLimit(Array.from({ length: 12 }), 12, (_, i) =>
            hold(booking, eventId, `racer-${i}-${id}`, [contested]),
          );
          const statuses = answers.map((a) => a.status).sort();
          assert(
            statuses.filter((s) => s === 201).length === 1 && statuses.filter((s) => s === 409).length === 11,
            `statuses ${statuses.join(',')}`,
          );
        },
      );
      await ctx.check(
        'during',
        'ticket-booking',
        'event details still served (the cache falls through to Postgres)',
        async () => {
          expectStatus(await call(`${booking}/events/${eventId}`), 200, 'event details');
        },
      );

      // ---------------------------------------------------------------- after
      await ctx.fault.start();
      ctx.log('redis started again');

      // Every service but the aggregation worker, whose promise after is the exact count below.
      await checkReadyAgain(
        ctx,
        scenario.services.filter((s) => s !== 'ad-click-aggregator-worker'),
        RECOVERY_MS,
      );

      await ctx.check(
        'after',
        'url-shortener',
        'creates and redirects work; links made during the outage redirect',
        async () => {
          const link = await createLink(short, `https://example.com/after/${id}`);
          await expectRedirect(short, link.code, link.url);
          assert(createdDuring, 'no link was created during the outage');
          await expectRedirect(short, createdDuring.code, createdDuring.url);
        },
      );
      await ctx.check(
        'after',
        'url-shortener-worker',
        `the expiry sweep is scheduled again and runs within ${SCHEDULES_MS / 1000} s (its schedule survives an empty Redis)`,
        () => {
          const env = ctx.env('url-shortener-worker');
          const every = Number(env.EXPIRY_SWEEP_EVERY_MS ?? 60_000);
          return onQueue(env, SCHEDULES.expiry, (queue) =>
            ctx.eventually(
              async () => {
                await expectScheduled(queue, SCHEDULES.expiry.id, { every }, redisStopped);
                const runs = await completedRuns(queue, SCHEDULES.expiry.id, redisStopped);
                assert(runs > 0, 'no sweep has completed since Redis returned');
              },
              SCHEDULES_MS,
              500,
            ),
          );
        },
      );
      await ctx.check(
        'after',
        'rate-limiter',
        'Redis decides again within 5 s (X-RateLimit-Source: redis)',
        () =>
          ctx.eventually(async () => {
            const answer = await call(`${limiter}/v1/checks`, {
              json: { key: `after-${id}`, rule: 'strict' },
            });
            expectStatus(answer, 200, 'check');
            assert(
              answer.headers.get('x-ratelimit-source') === 'redis',
              `source ${answer.headers.get('x-ratelimit-source')}`,
            );
            assert((answer.body as { allowed: boolean }).allowed, 'strict still denied');
          }, 5_000),
      );

      await ctx.check('after', 'chat-gateway', 'new connections are accepted again', async () => {
        const outcome = await chatOutcome(gw1, await chatToken(gw1, `carol-${id}`));
        assert(outcome === 'hello', `new connection closed with ${outcome}`);
      });
      await ctx.check(
        'after',
        'chat-gateway-2',
        'live delivery across instances resumes within one heartbeat (30 s)',
        () =>
          ctx.eventually(
            async () => {
              const clientMsgId = `m-after-${id}-${acked.length}`;
              const ack = await alice.send(conversation, 'hello after', clientMsgId);
              assert(ack.type === 'ack', `answer ${JSON.stringify(ack)}`);
              acked.push(clientMsgId);
              await bob.waitFor((f) => f.type === 'message' && f.clientMsgId === clientMsgId, 0, 3_000);
            },
            40_000,
            0,
          ),
      );
      await ctx.check(
        'after',
        'chat-gateway',
        'every acked message is stored once, seq 1..n with no gap',
        async () => {
          const rows = await query<{ seq: number; client_msg_id: string }>(
            chatDb,
            'SELECT seq::int AS seq, client_msg_id FROM chat.messages WHERE conversation_id = $1 ORDER BY seq',
            [conversation],
          );
          const ids = rows.map((r) => r.client_msg_id);
          assert(
            acked.every((m) => ids.filter((x) => x === m).length === 1),
            `stored ${ids.join(',')}; acked ${acked.join(',')}`,
          );
          assert(
            rows.every((r, i) => r.seq === i + 1),
            `seqs ${rows.map((r) => r.seq).join(',')}`,
          );
        },
      );
      await ctx.check(
        'after',
        'chat-gateway',
        `the retention sweep is scheduled again and runs within ${SCHEDULES_MS / 1000} s (its schedule survives an empty Redis)`,
        () => {
          const env = ctx.env('chat-gateway');
          const every = Number(env.RETENTION_EVERY_MS ?? 3_600_000);
          return onQueue(env, SCHEDULES.retention, (queue) =>
            ctx.eventually(
              async () => {
                await expectScheduled(queue, SCHEDULES.retention.id, { every }, redisStopped);
                const runs = await completedRuns(queue, SCHEDULES.retention.id, redisStopped);
                assert(runs > 0, 'no retention sweep has completed since Redis returned');
              },
              SCHEDULES_MS,
              500,
            ),
          );
        },
      );

      await ctx.check(
        'after',
        'ad-click-aggregator',
        'dedup is back: a repeat click redirects as a duplicate',
        async () => {
          const fresh = impressions[15]!;
          assert((await click(fresh)) === 'recorded', 'first click not recorded');
          recorded.after++;
          const again = await click(fresh);
          assert(again === 'duplicate', `repeat click: ${again}`);
        },
      );
      await ctx.check(
        'after',
        'ad-click-aggregator-worker',
        'every recorded click is counted exactly once (within 30 s)',
        async () => {
          const expected = recorded.before + recorded.during + recorded.after;
          await ctx.eventually(
            async () => {
              const total = await adClicks(ads, adId);
              assert(total === expected, `query API says ${total}, recorded ${expected}`);
            },
            30_000,
            1000,
          );
          const raw = await query<{ dedup: string; n: number }>(
            adDb,
            'SELECT dedup, count(*)::int AS n FROM adclick.raw_clicks WHERE ad_id = $1 GROUP BY dedup',
            [adId],
          );
          const unchecked = raw.find((r) => r.dedup === 'unchecked')?.n ?? 0;
          assert(
            unchecked === recorded.during,
            `raw clicks marked unchecked: ${unchecked}, made during the outage: ${recorded.during}`,
          );
        },
      );
      await ctx.check(
        'after',
        'ad-click-aggregator-worker',
        `the daily reconciliation is scheduled again within ${SCHEDULES_MS / 1000} s (its next run waits, due within 24 h)`,
        () => {
          const env = ctx.env('ad-click-aggregator-worker');
          const pattern = env.RECONCILE_CRON ?? '5 3 * * *';
          return onQueue(env, SCHEDULES.reconcile, (queue) =>
            ctx.eventually(
              async () => {
                const { scheduler, next } = await expectScheduled(
                  queue,
                  SCHEDULES.reconcile.id,
                  { pattern, tz: 'UTC' },
                  redisStopped,
                );
                const state = await next.getState();
                assert(state === 'delayed', `its next run is ${state}, not delayed`);
                const dueIn = scheduler.next! - Date.now();
                assert(dueIn > 0 && dueIn <= 86_400_000, `its next run is due in ${dueIn} ms`);
              },
              SCHEDULES_MS,
              500,
            ),
          );
        },
      );

      await ctx.check(
        'after',
        'ticket-booking',
        'holds take the Redis lock again (no new lock bypass)',
        async () => {
          const bypass = await metric(booking, 'sdlab_booking_lock_bypass_total');
          expectStatus(await hold(booking, eventId, `dave-${id}`, [s10]), 201, 'hold');
          const later = await metric(booking, 'sdlab_booking_lock_bypass_total');
          assert(later === bypass, `lock bypassed ${later - bypass} time(s) after Redis returned`);
        },
      );
      await ctx.check(
        'after',
        'ticket-booking-worker',
        `the waiting room admits again within ${ADMISSION_MS / 1000} s (its schedules survive an empty Redis)`,
        async () => {
          assert(
            (await roomStatus(booking, room, `late-${id}`, true)) === 'waiting',
            'not waiting after join',
          );
          await ctx.eventually(
            async () => {
              const status = await roomStatus(booking, room, `late-${id}`);
              assert(status === 'admitted', `still ${status}`);
            },
            ADMISSION_MS,
            500,
          );
        },
      );
      await ctx.check(
        'after',
        'ticket-booking',
        'Postgres: no seat in two holds, every held seat has its one active hold',
        async () => {
          const rows = await query<{ seat: number; holds: number; status: string }>(
            bookingDb,
            `SELECT s.id AS seat, s.status,
                  (SELECT count(*)::int FROM booking.holds h
                    WHERE h.event_id = s.event_id AND s.id = ANY(h.seat_ids) AND h.status = 'ACTIVE') AS holds
             FROM booking.seats s WHERE s.event_id = $1`,
            [eventId],
          );
          const wrong = rows.filter((r) => (r.status === 'HELD' ? r.holds !== 1 : r.holds !== 0));
          assert(wrong.length === 0, `seats out of step: ${JSON.stringify(wrong)}`);
          const held = rows.filter((r) => r.status === 'HELD').length;
          assert(held === 6, `${held} seats held; expected 6 (2 + 2 + 1 contested + 1 after)`);
        },
      );
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  },
};
