/**
 * Kafka stops. Nothing a visitor waits for goes through Kafka: both services redirect from
 * Postgres/Redis and hand their click events to Kafka in the background. What differs is how
 * much of an outage each click pipeline survives:
 * - url-shortener: click events wait in a bounded in-memory buffer; a send that fails is dropped
 *   and counted (`sdlab_shortener_click_events_failed_total`). At most once, by design (README).
 * - ad-click-aggregator: clicks are fsynced to the ingest's spool before the 302 and shipped when
 *   Kafka returns; the worker counts each exactly once (offsets and counts in one transaction).
 * When Kafka comes back (with its data, as a compose volume keeps it) every process is ready
 * again, and the counts add up.
 */
import { assert, call, expectStatus, mapLimit, query } from '../probe.ts';
import type { FaultScenario } from '../scenario.ts';
import {
  adClicks,
  clickRecorded,
  createAd,
  createLink,
  expectAliveNotReady,
  expectReadiness,
  expectRedirect,
  metric,
  runId,
} from '../services.ts';

/** Readiness after the broker answers again: kafkajs reconnects with backoff, consumers rejoin. */
const RECOVERY_MS = 60_000;
/** A redirect that waited for Kafka would take kafkajs' retries (seconds); these do not. */
const FAST_MS = 1000;
/** The aggregator flushes every 10 s (FLUSH_INTERVAL_MS); the shortener's stats every ~1 s. */
const COUNTED_MS = 60_000;

export const scenario: FaultScenario = {
  name: 'kafka-stopped',
  title: 'Kafka stops; redirects and clicks keep answering, and the click counts add up once it returns',
  server: 'kafka',
  services: ['url-shortener', 'url-shortener-worker', 'ad-click-aggregator', 'ad-click-aggregator-worker'],
  async run(ctx) {
    const id = runId();
    const short = ctx.url('url-shortener');
    const shortWorker = ctx.url('url-shortener-worker');
    const ads = ctx.url('ad-click-aggregator');
    const adWorker = ctx.url('ad-click-aggregator-worker');
    const adDb = ctx.env('ad-click-aggregator').DATABASE_URL!;

    const link = await createLink(short, `https://example.com/kafka/${id}`);
    const redirect = async () => {
      const answer = await call(`${short}/${link.code}`);
      expectStatus(answer, 302, `redirect ${link.code}`);
      return answer.ms;
    };
    const totalClicks = async () => {
      const answer = await call(`${short}/api/links/${link.code}/stats`);
      expectStatus(answer, 200, 'stats');
      return (answer.body as { totalClicks: number }).totalClicks;
    };
    const lostClicks = () => metric(short, 'sdlab_shortener_click_events_failed_total');

    const adId = `fault-kafka-${id}`;
    const impressions = await createAd(ads, adId, `https://shop.example.com/${id}`, 40);
    let nextImpression = 0;
    const clicks = { before: 0, during: 0, after: 0 };
    const click = async (phase: keyof typeof clicks, n: number) => {
      const times = await mapLimit(
        impressions.slice(nextImpression, nextImpression + n),
        4,
        async (impression) => {
          const answer = await clickRecorded(ads, impression);
          clicks[phase]++;
          return answer.ms;
        },
      );
      nextImpression += n;
      return Math.max(...times);
    };

    // ---------------------------------------------------------------- before
    const shortened = { before: 5, during: 20, after: 5 };
    await ctx.check(
      'before',
      'url-shortener-worker',
      `${shortened.before} redirects are counted in the link's stats`,
      async () => {
        for (let i = 0; i < shortened.before; i++) await redirect();
        await ctx.eventually(
          async () => {
            const total = await totalClicks();
            assert(total === shortened.before, `totalClicks ${total}`);
          },
          COUNTED_MS,
          500,
        );
      },
    );
    await ctx.check(
      'before',
      'ad-click-aggregator-worker',
      '10 recorded clicks are counted by the query API',
      async () => {
        await click('before', 10);
        await ctx.eventually(
          async () => {
            const total = await adClicks(ads, adId);
            assert(total === clicks.before, `query API says ${total}, recorded ${clicks.before}`);
          },
          COUNTED_MS,
          1000,
        );
      },
    );
    const lostBefore = await lostClicks();

    // ---------------------------------------------------------------- during
    await ctx.fault.stop();
    const down = Date.now();
    ctx.log('kafka stopped');

    await ctx.check(
      'during',
      'url-shortener',
      `links keep redirecting (302), each in < ${FAST_MS} ms`,
      async () => {
        const times: number[] = [];
        for (let i = 0; i < shortened.during; i++) times.push(await redirect());
        const slowest = Math.max(...times);
        assert(slowest < FAST_MS, `slowest redirect ${slowest.toFixed(0)} ms`);
      },
    );
    // Redirected only after the outage: its click event would land in the same lost counter.
    let createdDuring: { code: string; url: string } | undefined;
    await ctx.check(
      'during',
      'url-shortener',
      'links can still be created (Postgres and Redis only)',
      async () => {
        createdDuring = await createLink(short, `https://example.com/kafka-during/${id}`);
      },
    );
    await ctx.check(
      'during',
      'url-shortener',
      'stays ready (readyz 200): its redirects do not need Kafka',
      () => expectReadiness(short, 200),
    );
    await ctx.check(
      'during',
      'url-shortener',
      'click events that cannot be sent are dropped and counted (failed_total rises)',
      () =>
        ctx.eventually(
          async () => {
            const lost = (await lostClicks()) - lostBefore;
            assert(lost > 0, 'sdlab_shortener_click_events_failed_total has not moved');
          },
          45_000,
          1000,
        ),
    );
    await ctx.check(
      'during',
      'url-shortener-worker',
      'alive (healthz 200), not ready: readyz 503 names kafka',
      async () => {
        await expectAliveNotReady(shortWorker, 'kafka');
      },
    );

    await ctx.check(
      'during',
      'ad-click-aggregator',
      `clicks keep redirecting and are recorded, each in < ${FAST_MS} ms`,
      async () => {
        const slowest = await click('during', 20);
        assert(slowest < FAST_MS, `slowest click ${slowest.toFixed(0)} ms`);
      },
    );
    await ctx.check(
      'during',
      'ad-click-aggregator',
      'the clicks wait in the spool: backlog > 0, kafka_connected 0',
      () =>
        ctx.eventually(
          async () => {
            const backlog = await metric(ads, 'sdlab_adclick_spool_backlog_bytes');
            const connected = await metric(ads, 'sdlab_adclick_ingest_kafka_connected');
            assert(backlog > 0 && connected === 0, `backlog ${backlog} bytes, kafka_connected ${connected}`);
            ctx.log(`ad-click spool backlog ${backlog} bytes for ${clicks.during} clicks`);
          },
          20_000,
          500,
        ),
    );
    await ctx.check(
      'during',
      'ad-click-aggregator',
      'stays ready (readyz 200): the spool is there for this',
      () => expectReadiness(ads, 200),
    );
    await ctx.check(
      'during',
      'ad-click-aggregator',
      'the query API still answers the counts made so far',
      async () => {
        const total = await adClicks(ads, adId);
        assert(
          total === clicks.before,
          `query API says ${total}, counted before the outage ${clicks.before}`,
        );
      },
    );
    await ctx.check(
      'during',
      'ad-click-aggregator-worker',
      'alive (healthz 200), not ready: readyz 503 names kafka',
      async () => {
        await expectAliveNotReady(adWorker, 'kafka');
      },
    );

    // ---------------------------------------------------------------- after
    await ctx.fault.start();
    ctx.log(`kafka started again after ${((Date.now() - down) / 1000).toFixed(1)} s down`);

    for (const [service, base] of [
      ['url-shortener', short],
      ['url-shortener-worker', shortWorker],
      ['ad-click-aggregator', ads],
      ['ad-click-aggregator-worker', adWorker],
    ] as const) {
      await ctx.check('after', service, `ready (readyz 200) within ${RECOVERY_MS / 1000} s`, () =>
        ctx.eventually(() => expectReadiness(base, 200), RECOVERY_MS, 1000),
      );
    }

    await ctx.check(
      'after',
      'ad-click-aggregator',
      'the spool drains into Kafka (backlog 0, kafka_connected 1)',
      () =>
        ctx.eventually(
          async () => {
            const backlog = await metric(ads, 'sdlab_adclick_spool_backlog_bytes');
            const connected = await metric(ads, 'sdlab_adclick_ingest_kafka_connected');
            assert(
              backlog === 0 && connected === 1,
              `backlog ${backlog} bytes, kafka_connected ${connected}`,
            );
          },
          COUNTED_MS,
          1000,
        ),
    );
    await ctx.check(
      'after',
      'ad-click-aggregator-worker',
      'every recorded click is counted exactly once, outage included',
      async () => {
        await click('after', 10);
        const expected = clicks.before + clicks.during + clicks.after;
        await ctx.eventually(
          async () => {
            const total = await adClicks(ads, adId);
            assert(total === expected, `query API says ${total}, recorded ${expected}`);
          },
          COUNTED_MS,
          1000,
        );
        const [raw] = await query<{ n: number; late: number }>(
          adDb,
          'SELECT count(*)::int AS n, count(*) FILTER (WHERE late)::int AS late FROM adclick.raw_clicks WHERE ad_id = $1',
          [adId],
        );
        assert(
          raw?.n === expected && raw.late === 0,
          `raw clicks in Postgres: ${JSON.stringify(raw)}, recorded ${expected}`,
        );
      },
    );

    await ctx.check(
      'after',
      'url-shortener-worker',
      'stats = redirects − click events counted as lost (none counted twice, none vanish)',
      async () => {
        for (let i = 0; i < shortened.after; i++) await redirect();
        await ctx.eventually(
          async () => {
            const lost = (await lostClicks()) - lostBefore;
            const total = await totalClicks();
            const made = shortened.before + shortened.during + shortened.after;
            assert(
              lost <= shortened.during,
              `${lost} counted as lost, but only ${shortened.during} redirects were made during the outage`,
            );
            assert(total === made - lost, `totalClicks ${total}; redirects ${made}, counted as lost ${lost}`);
            ctx.log(
              `url-shortener: ${made} redirects, ${lost} click events counted as lost, ${total} counted`,
            );
          },
          COUNTED_MS,
          1000,
        );
      },
    );
    await ctx.check(
      'after',
      'url-shortener',
      'the link made during the outage redirects; its click reaches Kafka (none lost after recovery)',
      async () => {
        const lost = await lostClicks();
        const produced = await metric(short, 'sdlab_shortener_click_events_produced_total');
        assert(createdDuring, 'no link was created during the outage');
        await expectRedirect(short, createdDuring.code, createdDuring.url);
        await ctx.eventually(
          async () => {
            const now = await metric(short, 'sdlab_shortener_click_events_produced_total');
            assert(now > produced, 'produced_total did not move');
          },
          10_000,
          250,
        );
        const lostNow = await lostClicks();
        assert(lostNow === lost, `${lostNow - lost} click event(s) lost after recovery`);
      },
    );
  },
};
