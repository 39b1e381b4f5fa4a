import { Queue, QueueEvents, Worker } from 'bullmq';
import { describe, expect } from 'vitest';
import { test } from '../src/index.ts';

describe('BullMQ (real Redis)', () => {
  test('runs a job and its result is read back', async ({ redis }) => {
    const connection = { url: redis.url, maxRetriesPerRequest: null };
    const name = 'sweep';
    const prefix = redis.prefix.slice(0, -1);
    const queue = new Queue(name, { connection, prefix });
    const events = new QueueEvents(name, { connection, prefix });
    const worker = new Worker(name, async (job) => ({ released: job.data.holds.length }), {
      connection,
      prefix,
    });
    try {
      await events.waitUntilReady();
      const job = await queue.add('release-expired', { holds: ['h1', 'h2', 'h3'] });
      const result = await job.waitUntilFinished(events, 15_000);
      expect(result).toEqual({ released: 3 });
      expect(await queue.getJobCounts('completed')).toEqual({ completed: 1 });
    } finally {
      await worker.close();
      await events.close();
      await queue.close();
    }
  });
});
