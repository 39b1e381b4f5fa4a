/**
 * Postgres stops. It is the source of truth for links, messages, counts and seats, so nothing
 * that needs a commit may pretend to succeed: creates, sends and holds fail with a clear answer
 * and leave nothing half-written. What caches or logs can serve keeps going — cached redirects
 * from the LRU and Redis, ad clicks into the spool and Kafka — and when Postgres returns, the
 * consumers catch up so the counts are exact.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { chatToken, connectChat, directConversation } from '../chat-client.ts';
import { assert, call, expectProblem, expectStatus, query } from '../probe.ts';
import type { FaultScenario } from '../scenario.ts';
import {
  ADS_ADMIN,
  adClicks,
  as,
  checkReadyAgain,
  clickRecorded,
  createAd,
  createEvent,
  createLink,
  expectAliveNotReady,
  expectReadiness,
  expectRedirect,
  hold,
  runId,
} from '../services.ts';

const RECOVERY_MS = 30_000;

export const scenario: FaultScenario = {
  name: 'postgres-stopped',
  title:
    'Postgres stops; nothing is acknowledged that is not stored, caches and logs carry on, counts exact after',
  server: 'postgres',
  services: [
    'url-shortener',
    'url-shortener-worker',
    'chat-gateway',
    'ad-click-aggregator',
    'ad-click-aggregator-worker',
    'ticket-booking',
    // Its outbox relay runs in every real deployment; without it the cache would never see the
    // relay's second delete, and the scenario would test a topology nobody runs.
    'ticket-booking-worker',
  ],
  async run(ctx) {
    const id = runId();
    const short = ctx.url('url-shortener');
    const gw = ctx.url('chat-gateway');
    const ads = ctx.url('ad-click-aggregator');
    const booking = ctx.url('ticket-booking');
    const shortDb = ctx.env('url-shortener').DATABASE_URL!;
    const chatDb = ctx.env('chat-gateway').DATABASE_URL!;
    const bookingDb = ctx.env('ticket-booking').DATABASE_URL!;

    // ---------------------------------------------------------------- before
    const warm = await createLink(short, `https://example.com/pg-warm/${id}`);
    let redirects = 0;
    await ctx.check('before', 'url-shortener', 'links redirect (302)', async () => {
      for (let i = 0; i < 3; i++) {
        await expectRedirect(short, warm.code, warm.url);
        redirects++;
      }
    });

    const [aliceToken, bobToken] = await Promise.all([
      chatToken(gw, `alice-${id}`),
      chatToken(gw, `bob-${id}`),
    ]);
    const conversation = await directConversation(gw, aliceToken, `bob-${id}`);
    const alice = await connectChat(gw, aliceToken);
    const bob = await connectChat(gw, bobToken);
    try {
      await ctx.check('before', 'chat-gateway', 'a message is stored, acked and delivered', async () => {
        const ack = await alice.send(conversation, 'one', `m1-${id}`);
        assert(ack.type === 'ack' && ack.seq === 1, `answer ${JSON.stringify(ack)}`);
        await bob.waitFor((f) => f.type === 'message' && f.clientMsgId === `m1-${id}`);
      });

      const adId = `fault-pg-${id}`;
      const impressions = await createAd(ads, adId, `https://shop.example.com/${id}`, 20);
      let recorded = 0;
      const clickAll = async (list: string[]) => {
        for (const impression of list) {
          await clickRecorded(ads, impression);
          recorded++;
        }
      };
      await ctx.check('before', 'ad-click-aggregator', 'clicks redirect and are recorded', () =>
        clickAll(impressions.slice(0, 5)),
      );

      const { eventId, seatIds } = await createEvent(booking, id, 10);
      const [s1, s2] = [seatIds[0]!, seatIds[1]!];
      let aliceHold = '';
      await ctx.check(
        'before',
        'ticket-booking',
        'event details are served and a hold succeeds',
        async () => {
          // The worker's relay deletes the event's cache entry once more after indexing it (the
          // delayed double delete): warm the cache only after that, or the outage meets a miss.
          await ctx.eventually(async () => {
            const waiting = await query(bookingDb, 'SELECT id FROM booking.outbox WHERE aggregate_id = $1', [
              eventId,
            ]);
            assert(waiting.length === 0, `${waiting.length} outbox rows of the event not relayed yet`);
          }, 20_000);
          await new Promise((resolve) => setTimeout(resolve, 1_000)); // the invalidation follows the DELETE
          expectStatus(await call(`${booking}/events/${eventId}`), 200, 'event details'); // now cached in Redis
          const answer = await hold(booking, eventId, `alice-${id}`, [s1]);
          expectStatus(answer, 201, 'hold');
          aliceHold = (answer.body as { hold: { id: string } }).hold.id;
        },
      );

      // ---------------------------------------------------------------- during
      await ctx.fault.stop();
      ctx.log('postgres stopped');

      await ctx.check(
        'during',
        'url-shortener',
        'cached links keep redirecting (302, from the LRU or Redis)',
        async () => {
          for (let i = 0; i < 3; i++) {
            await expectRedirect(short, warm.code, warm.url);
            redirects++;
          }
        },
      );
      await ctx.check(
        'during',
        'url-shortener',
        'a code no cache holds: 503 problem+json with Retry-After, not a false 404',
        async () => {
          const answer = await call(`${short}/${randomBytes(5).toString('hex').slice(0, 7)}`);
          expectStatus(answer, 503, 'uncached redirect');
          assert(answer.headers.get('retry-after') !== null, 'no Retry-After');
          assert(
            (answer.headers.get('content-type') ?? '').startsWith('application/problem+json'),
            'not problem+json',
          );
        },
      );
      const keyed = { url: `https://example.com/pg-during/${id}`, alias: `pg-${id}` };
      await ctx.check(
        'during',
        'url-shortener',
        'creates: 503 SDLAB_SHORTENER_STORE_UNAVAILABLE with Retry-After: 1',
        async () => {
          for (const headers of [{}, { 'idempotency-key': `key-${id}` }] as Record<string, string>[]) {
            const answer = await call(`${short}/api/links`, { json: keyed, headers });
            expectProblem(answer, 503, 'SDLAB_SHORTENER_STORE_UNAVAILABLE', 'create');
            assert(
              answer.headers.get('retry-after') === '1',
              `Retry-After ${answer.headers.get('retry-after')}`,
            );
          }
        },
      );
      await ctx.check(
        'during',
        'url-shortener',
        'alive (healthz 200), not ready: readyz 503 names postgres',
        async () => {
          await expectAliveNotReady(short, 'postgres');
        },
      );

      await ctx.check(
        'during',
        'chat-gateway',
        'a send is not acked: error `unavailable` naming its clientMsgId',
        async () => {
          const answer = await alice.send(conversation, 'two', `m2-${id}`);
          assert(
            answer.type === 'error' && answer.code === 'unavailable',
            `answer ${JSON.stringify(answer)}`,
          );
          assert(answer.ref === `m2-${id}`, `ref ${answer.ref}`);
        },
      );
      await ctx.check(
        'during',
        'chat-gateway',
        'the connection stays open (the client retries on it)',
        async () => {
          assert(alice.isOpen, `closed with ${alice.closeCode}`);
          const from = alice.frames.length;
          alice.frame({ type: 'ping', id: 'p1' });
          await alice.waitFor((f) => f.type === 'pong', from);
        },
      );

      await ctx.check(
        'during',
        'ad-click-aggregator',
        'clicks keep redirecting and are recorded (spool → Kafka)',
        () => clickAll(impressions.slice(5, 15)),
      );
      await ctx.check(
        'during',
        'ad-click-aggregator',
        'queries: 503 problem+json, readyz 503 names postgres',
        async () => {
          const hour = 3_600_000;
          const from = new Date(Math.floor(Date.now() / hour) * hour).toISOString();
          const to = new Date(Math.floor(Date.now() / hour) * hour + hour).toISOString();
          const answer = await call(`${ads}/ads/${adId}/clicks?granularity=minute&from=${from}&to=${to}`, {
            headers: ADS_ADMIN,
          });
          expectStatus(answer, 503, 'query');
          assert(
            (answer.headers.get('content-type') ?? '').startsWith('application/problem+json'),
            'not problem+json',
          );
          await expectReadiness(ads, 503, 'postgres');
        },
      );

      await ctx.check(
        'during',
        'ticket-booking',
        'a hold: 503 SDLAB_BOOKING_STORE_UNAVAILABLE with Retry-After',
        async () => {
          const answer = await hold(booking, eventId, `bob-${id}`, [s2]);
          expectProblem(answer, 503, 'SDLAB_BOOKING_STORE_UNAVAILABLE', 'hold');
          assert(answer.headers.get('retry-after') !== null, 'no Retry-After');
        },
      );
      await ctx.check(
        'during',
        'ticket-booking',
        'a purchase: 503 problem+json, nothing charged',
        async () => {
          const answer = await call(`${booking}/holds/${aliceHold}/purchase`, {
            headers: { ...(await as(`alice-${id}`)), 'idempotency-key': `buy-${id}` },
            json: { paymentMethod: 'pm_card_visa' },
          });
          expectProblem(answer, 503, 'SDLAB_BOOKING_STORE_UNAVAILABLE', 'purchase');
        },
      );
      await ctx.check(
        'during',
        'ticket-booking',
        'event details still served from the Redis cache',
        async () => {
          expectStatus(await call(`${booking}/events/${eventId}`), 200, 'event details');
        },
      );
      await ctx.check(
        'during',
        'ticket-booking',
        'details no cache holds: 503 SDLAB_BOOKING_STORE_UNAVAILABLE with Retry-After, not a false 404',
        async () => {
          const answer = await call(`${booking}/events/${randomUUID()}`);
          expectProblem(answer, 503, 'SDLAB_BOOKING_STORE_UNAVAILABLE', 'uncached event details');
          assert(answer.headers.get('retry-after') !== null, 'no Retry-After');
        },
      );
      await ctx.check('during', 'ticket-booking', 'readyz 503 names postgres', () =>
        expectReadiness(booking, 503, 'postgres'),
      );

      // ---------------------------------------------------------------- after
      await ctx.fault.start();
      ctx.log('postgres started again');

      await checkReadyAgain(ctx, [...scenario.services, 'payment-provider'], RECOVERY_MS);

      await ctx.check(
        'after',
        'url-shortener',
        'nothing half-written: the refused creates left no link and no key',
        async () => {
          const links = await query(shortDb, 'SELECT code FROM shortener.links WHERE long_url = $1', [
            keyed.url,
          ]);
          const keys = await query(shortDb, 'SELECT key FROM shortener.idempotency_keys WHERE key = $1', [
            `key-${id}`,
          ]);
          assert(
            links.length === 0 && keys.length === 0,
            `links ${JSON.stringify(links)}, keys ${JSON.stringify(keys)}`,
          );
        },
      );
      await ctx.check(
        'after',
        'url-shortener',
        'the retried keyed create is a first create (201), the next a replay',
        async () => {
          const first = await call(`${short}/api/links`, {
            json: keyed,
            headers: { 'idempotency-key': `key-${id}` },
          });
          expectStatus(first, 201, 'retried create');
          assert(first.headers.get('idempotent-replayed') === null, 'the retry was a replay');
          const again = await call(`${short}/api/links`, {
            json: keyed,
            headers: { 'idempotency-key': `key-${id}` },
          });
          expectStatus(again, 201, 'second retry');
          assert(again.headers.get('idempotent-replayed') === 'true', 'the second retry was not a replay');
          await expectRedirect(short, keyed.alias, keyed.url);
        },
      );
      await ctx.check(
        'after',
        'url-shortener-worker',
        'click stats catch up: every redirect counted, also those during the outage',
        () =>
          ctx.eventually(
            async () => {
              const answer = await call(`${short}/api/links/${warm.code}/stats`);
              expectStatus(answer, 200, 'stats');
              const total = (answer.body as { totalClicks: number }).totalClicks;
              assert(total === redirects, `totalClicks ${total}, redirects ${redirects}`);
            },
            30_000,
            1000,
          ),
      );

      await ctx.check(
        'after',
        'chat-gateway',
        'the resent message is acked once; Postgres holds each message once, seq 1..n',
        async () => {
          const ack = await alice.send(conversation, 'two', `m2-${id}`);
          assert(
            ack.type === 'ack' && ack.seq === 2 && ack.duplicate === false,
            `answer ${JSON.stringify(ack)}`,
          );
          const rows = await query<{ seq: number; client_msg_id: string }>(
            chatDb,
            'SELECT seq::int AS seq, client_msg_id FROM chat.messages WHERE conversation_id = $1 ORDER BY seq',
            [conversation],
          );
          const seen = rows.map((r) => `${r.seq}:${r.client_msg_id}`).join(',');
          assert(seen === `1:m1-${id},2:m2-${id}`, `stored ${seen}`);
        },
      );
      await ctx.check('after', 'chat-gateway', 'the recipient gets it (live, or by sync)', async () => {
        await bob.sync(conversation, 1);
        const held = bob.messages(conversation).map((m) => m.clientMsgId);
        assert(held.includes(`m2-${id}`), `bob holds ${held.join(',')}`);
      });

      await ctx.check(
        'after',
        'ad-click-aggregator-worker',
        'counts catch up exactly: every recorded click once (within 40 s)',
        async () => {
          await clickAll(impressions.slice(15, 20));
          await ctx.eventually(
            async () => {
              const total = await adClicks(ads, adId);
              assert(total === recorded, `query API says ${total}, recorded ${recorded}`);
            },
            40_000,
            1000,
          );
        },
      );

      await ctx.check(
        'after',
        'ticket-booking',
        'the seat refused during the outage is free: a hold now succeeds',
        async () => {
          expectStatus(await hold(booking, eventId, `bob-${id}`, [s2]), 201, 'hold');
        },
      );
      await ctx.check(
        'after',
        'ticket-booking',
        'the refused purchase left nothing: hold still ACTIVE, no purchase row, no charge at the provider',
        async () => {
          const holds = await query<{ status: string }>(
            bookingDb,
            'SELECT status FROM booking.holds WHERE id = $1',
            [aliceHold],
          );
          const purchases = await query(bookingDb, 'SELECT id FROM booking.purchases WHERE hold_id = $1', [
            aliceHold,
          ]);
          assert(holds[0]?.status === 'ACTIVE', `hold ${JSON.stringify(holds)}`);
          assert(purchases.length === 0, `purchases ${JSON.stringify(purchases)}`);
          const charges = await call(`${ctx.url('payment-provider')}/payments?reference=${aliceHold}`);
          expectStatus(charges, 200, 'payments by reference');
          const data = (charges.body as { data: unknown[] }).data;
          assert(data.length === 0, `the provider holds ${data.length} charge(s) for the hold`);
        },
      );
      await ctx.check(
        'after',
        'ticket-booking',
        'the purchase retried with its key completes (201, or 402 if the card is declined)',
        async () => {
          const answer = await call(`${booking}/holds/${aliceHold}/purchase`, {
            headers: { ...(await as(`alice-${id}`)), 'idempotency-key': `buy-${id}` },
            json: { paymentMethod: 'pm_card_visa' },
          });
          expectStatus(answer, [201, 402], 'purchase');
          const seats = await query<{ status: string }>(
            bookingDb,
            'SELECT status FROM booking.seats WHERE id = $1',
            [s1],
          );
          const expected = answer.status === 201 ? 'SOLD' : 'AVAILABLE';
          assert(seats[0]?.status === expected, `seat ${s1} is ${seats[0]?.status} after a ${answer.status}`);
        },
      );
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  },
};
