import { test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { ClickPlan } from './support/click-plan.ts';
import { clickStream, SIZE_FLUSH_ONLY } from './support/click-stream.ts';
import { sorted, storedCounts } from './support/counts.ts';
import { metricFromText } from './support/metrics.ts';
import { committedTotal, waitAllCommitted } from './support/offsets.ts';
import { startProcess } from './support/processes.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const PARTITIONS = 3;

describe('a worker that starts on a backlog', () => {
  test('counts all of it as soon as it is read, not at the next interval; a live stream after it keeps the size trigger', async ({
    pg,
    redis,
    kafka,
  }) => {
    const { topics, env, plan, producer } = await clickStream({ pg, redis, kafka }, PARTITIONS, {
      LOG_LEVEL: 'warn',
    });
    // 1,700 per partition: size flushes every 1,000 consumed leave a tail of less than 1,000,
    // which only the interval (an hour here) would flush without the catch-up trigger.
    plan.steady(PARTITIONS, 1700, T0, 100, 50);
    const backlog = plan.messages.length;
    let worker: Awaited<ReturnType<typeof startProcess>> | undefined;
    try {
      await plan.produce(producer, topics.clicks);
      worker = await startProcess('src/worker.ts', { ...env, ...SIZE_FLUSH_ONLY });
      expect(await waitAllCommitted(pg.pool, kafka.admin, topics.clicks)).toBe(backlog);
      expect(sorted(await storedCounts(pg.pool, 'minute'))).toEqual(sorted(plan.expected()));
      const caughtUp = (await worker.metrics())
        .split('\n')
        .filter((l) =>
          l.startsWith('sdlab_adclick_aggregator_flushes_total{trigger="caught_up",result="committed"'),
        );
      expect(caughtUp.map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)))).toEqual([1]);

      // Once per assignment: clicks arriving after the backlog wait for a size flush (or the interval).
      const live = new ClickPlan();
      live.steady(PARTITIONS, 100, T0 + 200_000, 100);
      await live.produce(producer, topics.clicks);
      await waitFor(
        'the worker to consume the live clicks',
        async () =>
          metricFromText(await worker!.metrics(), 'sdlab_adclick_aggregator_consumed_offset') ===
          backlog + live.messages.length,
      );
      expect(await committedTotal(pg.pool)).toBe(backlog);
      await worker.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      // The shutdown flush commits them.
      expect(await committedTotal(pg.pool)).toBe(backlog + live.messages.length);
    } finally {
      await worker?.kill('SIGKILL');
      await producer.disconnect();
    }
  });
});
