import { test, uniqueId } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { startScheduledJobs } from '../src/scheduled-jobs.ts';
import { kitHost } from './fixtures/kit-host.ts';

describe('startScheduledJobs (BullMQ on real Redis)', () => {
  test('runs each schedule, takes jobs enqueued on demand, logs a failure and reports it', async ({
    redis,
  }) => {
    const { host, lines } = kitHost();
    const queueName = `kit-jobs-${uniqueId()}`;
    const prefix = `${redis.prefix}bull`;
    const runs: string[] = [];
    const failed: string[] = [];
    const jobs = await startScheduledJobs<{ fail?: boolean }, string>({
      queue: queueName,
      redisUrl: redis.url,
      prefix,
      schedules: [
        { id: 'tick', repeat: { every: 200 } },
        {
          id: 'daily',
          repeat: { pattern: '0 3 * * *', tz: 'UTC' },
          data: {},
          keep: { completed: 5, failed: 5 },
        },
      ],
      concurrency: 2,
      process: async (job) => {
        runs.push(job.name);
        if (job.data.fail) throw new Error('failed on purpose');
        return job.name;
      },
      onFailed: (job) => failed.push(job?.name ?? '?'),
      log: host.log,
    });
    try {
      expect((await jobs.queue.getJobSchedulers()).map((s) => s.key).sort()).toEqual(['daily', 'tick']);
      await expect
        .poll(() => runs.filter((r) => r === 'tick').length, { timeout: 15_000 })
        .toBeGreaterThan(1);

      const onDemand = await jobs.queue.add('now', {});
      await expect
        .poll(async () => (await jobs.queue.getJob(onDemand.id ?? ''))?.returnvalue, { timeout: 15_000 })
        .toBe('now');
      await jobs.queue.add('broken', { fail: true });
      await expect.poll(() => failed, { timeout: 15_000 }).toEqual(['broken']);
      expect(lines).toContainEqual(
        expect.objectContaining({ level: 50, msg: 'job failed', queue: queueName, job: 'broken' }),
      );
      // The daily one is declared, not run: its first time is hours away.
      expect(runs).not.toContain('daily');
    } finally {
      await jobs.close();
    }
    // Closed means closed: nothing runs afterwards.
    const after = runs.length;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(runs.length).toBe(after);
  });

  test('runWorker false: schedules and enqueues, and runs nothing in this instance', async ({ redis }) => {
    const { host } = kitHost();
    const queueName = `kit-jobs-${uniqueId()}`;
    const prefix = `${redis.prefix}bull`;
    let ran = 0;
    const jobs = await startScheduledJobs({
      queue: queueName,
      redisUrl: redis.url,
      prefix,
      schedules: [{ id: 'tick', repeat: { every: 100 } }],
      runWorker: false,
      process: async () => {
        ran++;
      },
      log: host.log,
    });
    try {
      expect(jobs.worker).toBeUndefined();
      await jobs.queue.add('now', {});
      // The scheduler keeps adding jobs; with no worker they wait.
      await expect.poll(() => jobs.queue.getWaitingCount(), { timeout: 15_000 }).toBeGreaterThan(1);
      expect(ran).toBe(0);
      await jobs.queue.obliterate({ force: true });
    } finally {
      await jobs.close();
    }
  });
});
