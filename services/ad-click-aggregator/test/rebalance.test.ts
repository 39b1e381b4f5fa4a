import { test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { buildWorker } from '../src/worker.ts';
import { clickStream, expectExactCounts } from './support/click-stream.ts';
import { metric } from './support/metrics.ts';
import { committedTotal } from './support/offsets.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;
const PARTITIONS = 6;

describe('scaling out', () => {
  test('two aggregators share the partitions; rebalances mid-stream keep the counts exact', async ({
    pg,
    redis,
    kafka,
  }) => {
    const { topics, env, plan, producer } = await clickStream({ pg, redis, kafka }, PARTITIONS, {
      FLUSH_INTERVAL_MS: '200',
      FLUSH_MAX_EVENTS: '300',
      KAFKA_MAX_BYTES_PER_PARTITION: '16384',
    });
    const a = await buildWorker(env);
    let b: Awaited<ReturnType<typeof buildWorker>> | undefined;
    let aClosed = false;
    try {
      // Phase 1: A alone.
      plan.steady(PARTITIONS, 500, T0, 100, 50);
      await plan.produce(producer, topics.clicks);
      await waitFor('A to commit a flush', async () => (await committedTotal(pg.pool)) > 0);

      // Phase 2 is produced while B joins: A is consuming it when the group rebalances.
      let from = plan.messages.length;
      plan.steady(PARTITIONS, 1000, T0 + 50_000, 100, 50);
      const joining = buildWorker(env);
      await plan.produce(producer, topics.clicks, from);
      b = await joining;
      const bm = b.app.kit.metrics;
      await waitFor(
        'B to own partitions',
        async () => (await metric(bm, 'sdlab_adclick_aggregator_assigned_partitions')) > 0,
      );

      // Phase 3: late and too-late clicks while both run.
      from = plan.messages.length;
      plan.lateRound(PARTITIONS, T0 + 10 * MIN, 30, 10, 50);
      await plan.produce(producer, topics.clicks, from);
      await waitFor(
        'B to commit a flush',
        async () => (await metric(bm, 'sdlab_adclick_aggregator_flushes_total', { result: 'committed' })) > 0,
      );
      const aMetrics = {
        rebalances: await metric(a.app.kit.metrics, 'sdlab_adclick_aggregator_rebalances_total'),
        partitions: await metric(a.app.kit.metrics, 'sdlab_adclick_aggregator_assigned_partitions'),
        flushes: await metric(a.app.kit.metrics, 'sdlab_adclick_aggregator_flushes_total', {
          result: 'committed',
        }),
        rebalanceFlushes: await metric(a.app.kit.metrics, 'sdlab_adclick_aggregator_flushes_total', {
          trigger: 'rebalance',
        }),
        fenced: await metric(a.app.kit.metrics, 'sdlab_adclick_aggregator_flushes_total', {
          result: 'fenced',
        }),
      };

      // Phase 4: A leaves (graceful: it flushes, then leaves the group) while more clicks arrive.
      from = plan.messages.length;
      plan.steady(PARTITIONS, 300, T0 + 10 * MIN + 2000, 100, 50);
      const leaving = a.app.close();
      await plan.produce(producer, topics.clicks, from);
      await leaving;
      aClosed = true;
      await waitFor(
        'B to own every partition',
        async () => (await metric(bm, 'sdlab_adclick_aggregator_assigned_partitions')) === PARTITIONS,
      );

      const { end } = await expectExactCounts({ pg, kafka }, topics, plan, 'day');
      const writers = await pg.pool.query<{ n: string }>(
        'SELECT count(DISTINCT updated_by)::text AS n FROM adclick.consumer_offsets',
      );

      console.info('rebalance observed', {
        messages: end,
        copies: plan.copies,
        tooLate: plan.tooLate,
        a: aMetrics,
        b: {
          rebalances: await metric(bm, 'sdlab_adclick_aggregator_rebalances_total'),
          flushes: await metric(bm, 'sdlab_adclick_aggregator_flushes_total', { result: 'committed' }),
          fenced: await metric(bm, 'sdlab_adclick_aggregator_flushes_total', { result: 'fenced' }),
          rawDuplicates: await metric(bm, 'sdlab_adclick_aggregator_raw_duplicates_total'),
        },
        lastWriters: Number(writers.rows[0]!.n),
      });
      expect(aMetrics.rebalances).toBeGreaterThanOrEqual(2);
      expect(aMetrics.flushes).toBeGreaterThan(0);
    } finally {
      if (!aClosed) await a.app.close();
      await b?.app.close();
      await producer.disconnect();
    }
  });
});
