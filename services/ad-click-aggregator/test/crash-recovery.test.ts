import { test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { clickStream, expectExactCounts, SIZE_FLUSH_ONLY } from './support/click-stream.ts';
import { metricFromText } from './support/metrics.ts';
import { committedTotal, topicEnd } from './support/offsets.ts';
import { startProcess } from './support/processes.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;
const PARTITIONS = 4;

describe('crash recovery', () => {
  test('an aggregator killed with SIGKILL mid-stream and restarted still ends with exact counts', async ({
    pg,
    redis,
    kafka,
  }) => {
    const { topics, env, plan, producer } = await clickStream({ pg, redis, kafka }, PARTITIONS, {
      LOG_LEVEL: 'warn',
    });
    // Phase 1: 2,500 in-order clicks per partition plus a copy of every 40th (a producer replay).
    plan.steady(PARTITIONS, 2500, T0, 200, 40);
    const phase1 = plan.messages.length;

    // Flushes only by size, every 1,000 consumed messages: after the whole phase is consumed,
    // exactly phase1 % 1000 messages are consumed but uncommitted when the process dies. That
    // arithmetic needs each flush to take everything consumed, so one flush at a time here (kills
    // with concurrent flushes, the shipped default, are in drain-kill.test.ts).
    const first = await startProcess('src/worker.ts', {
      ...env,
      ...SIZE_FLUSH_ONLY,
      FLUSH_CONCURRENCY: '1',
      KAFKA_MAX_BYTES_PER_PARTITION: '16384',
    });
    let second: Awaited<ReturnType<typeof startProcess>> | undefined;
    try {
      await plan.produce(producer, topics.clicks);
      await waitFor(
        'the first worker to consume phase 1',
        async () =>
          metricFromText(await first.metrics(), 'sdlab_adclick_aggregator_consumed_offset') === phase1,
      );
      // Flushes commit while consumption goes on: the last size flush may still be in flight.
      const committedAtKill = await waitFor('the last size flush to commit', async () => {
        const committed = await committedTotal(pg.pool);
        return committed === phase1 - (phase1 % 1000) ? committed : undefined;
      });
      expect(committedAtKill).toBe(phase1 - (phase1 % 1000));
      expect(committedAtKill).toBeLessThan(phase1);
      await first.kill('SIGKILL');
      expect(first.child.signalCode).toBe('SIGKILL');

      // Phase 2, produced while no aggregator runs: late clicks that correct windows already
      // flushed, too-late ones, on-time ones, and replays of phase-1 messages.
      const before = plan.messages.length;
      plan.lateRound(PARTITIONS, T0 + 10 * MIN, 40, 20, 100);
      for (const m of plan.messages.slice(0, 25)) plan.copy(m.partition, m.event);
      await plan.produce(producer, topics.clicks, phase1);
      expect(plan.messages.length - before).toBeGreaterThan(0);

      second = await startProcess('src/worker.ts', { ...env, FLUSH_INTERVAL_MS: '300' });
      const { end, expected } = await expectExactCounts({ pg, kafka }, topics, plan, 'hour');
      expect(await topicEnd(kafka.admin, topics.deadLetter)).toBeGreaterThanOrEqual(plan.tooLate);

      const metrics = await second.metrics();
      const replayed = metricFromText(metrics, 'sdlab_adclick_aggregator_raw_duplicates_total');
      // The restart resumed from the offsets stored with the counts: it met only true copies again,
      // not the 10,000 messages committed before the kill.
      expect(replayed).toBeLessThanOrEqual(plan.copies);
      console.info('crash recovery observed', {
        messages: end,
        phase1,
        consumedAtKill: phase1,
        committedAtKill,
        uncommittedAtKill: phase1 - committedAtKill,
        copies: plan.copies,
        tooLate: plan.tooLate,
        rawDuplicatesSkippedAfterRestart: replayed,
        windows: expected.size,
        totalCounted: [...expected.values()].reduce((a, b) => a + b, 0),
      });
      await second.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      await first.kill('SIGKILL');
      await second?.kill('SIGKILL');
      await producer.disconnect();
    }
  });
});
