import { Writable } from 'node:stream';
import { type PrivateServer, startPrivateRedis } from '@sdlab/testkit';
import { Queue, Worker } from 'bullmq';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { keepJobSchedulers } from '../src/job-schedules.ts';

const PREFIX = 'kit-bull';
const EVERY_MS = 200;
/** Reconnects wait out ioredis' backoff (BullMQ's: 1 s at first); plus slack for a loaded machine. */
const BACK_WITHIN_MS = 15_000;

/** A real pino logger whose lines the test can read. */
function capturedLog() {
  const lines: { level: number; msg: string; queue?: string; err?: string }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

/** Queues and workers on a private Redis (BullMQ wants unlimited retries on its connections). */
function on(redis: PrivateServer) {
  const connection = { url: redis.url, maxRetriesPerRequest: null };
  const closers: (() => Promise<void>)[] = [];
  return {
    queue(name: string) {
      const queue = new Queue(name, { connection, prefix: PREFIX });
      queue.on('error', () => undefined); // refused while Redis is down, on purpose
      closers.push(() => queue.close());
      return queue;
    },
    worker(name: string, run: (job: { id?: string | undefined; timestamp: number }) => void) {
      const worker = new Worker(name, async (job) => run(job), { connection, prefix: PREFIX });
      worker.on('error', () => undefined);
      closers.unshift(() => worker.close());
      return worker;
    },
    async close() {
      for (const close of closers) await close();
      await redis.dispose();
    },
  };
}

/** What a Redis without persistence does when it fails over or restarts: it comes back empty. */
async function restartEmpty(redis: PrivateServer): Promise<number> {
  await redis.kill();
  await redis.start();
  return Date.now();
}

describe('keepJobSchedulers (a private Redis that restarts empty)', () => {
  it('declares the scheduler again when Redis comes back empty, and its job runs again', async () => {
    const redis = await startPrivateRedis();
    const bull = on(redis);
    const { log, lines } = capturedLog();
    try {
      const kept = bull.queue('kit-kept');
      // The control: declared once at start-up, the way the services used to.
      const once = bull.queue('kit-once');
      const runs: { id?: string | undefined; created: number }[] = [];
      bull.worker('kit-kept', (job) => runs.push({ id: job.id, created: job.timestamp }));

      const stop = await keepJobSchedulers(
        kept,
        () =>
          kept.upsertJobScheduler(
            'sweep',
            { every: EVERY_MS },
            { name: 'sweep', opts: { removeOnComplete: 10 } },
          ),
        log,
      );
      await once.upsertJobScheduler('sweep', { every: EVERY_MS }, { name: 'sweep' });
      expect(await kept.getJobScheduler('sweep')).toMatchObject({ key: 'sweep', every: EVERY_MS });
      await expect.poll(() => runs.length, { timeout: BACK_WITHIN_MS }).toBeGreaterThan(0);

      const restarted = await restartEmpty(redis);
      await expect
        .poll(() => kept.getJobScheduler('sweep'), { timeout: BACK_WITHIN_MS, interval: 100 })
        .toMatchObject({ key: 'sweep', every: EVERY_MS });
      // Not only declared: the worker runs a job the new scheduler created in the new Redis.
      await expect
        .poll(() => runs.filter((r) => r.created >= restarted).length, { timeout: BACK_WITHIN_MS })
        .toBeGreaterThan(0);
      // Redis did come back empty: the scheduler declared only once is gone for good.
      expect(await once.getJobScheduler('sweep')).toBeUndefined();
      expect(await once.getJobSchedulersCount()).toBe(0);
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: 30,
          queue: 'kit-kept',
          msg: 'job schedulers declared again after a reconnect',
        }),
      );
      expect(lines.filter((l) => l.level >= 40)).toEqual([]);
      stop();
    } finally {
      await bull.close();
    }
  });

  it('a failed re-declaration is a warning, never a throw; after stop() a reconnect declares nothing', async () => {
    const redis = await startPrivateRedis();
    const bull = on(redis);
    const { log, lines } = capturedLog();
    try {
      const queue = bull.queue('kit-failing');
      let declarations = 0;
      const declare = async () => {
        declarations++;
        if (declarations > 1) throw new Error('refused on purpose');
        await queue.upsertJobScheduler('sweep', { every: 60_000 }, { name: 'sweep' });
      };
      const stop = await keepJobSchedulers(queue, declare, log);
      expect(declarations).toBe(1);

      await restartEmpty(redis);
      // An exception out of the event handler would be an unhandled rejection: vitest fails the run.
      await expect
        .poll(() => lines.filter((l) => l.level === 40), { timeout: BACK_WITHIN_MS })
        .toEqual([
          expect.objectContaining({
            queue: 'kit-failing',
            err: 'refused on purpose',
            msg: 'could not declare the job schedulers again after a reconnect',
          }),
        ]);
      expect(declarations).toBe(2);

      stop();
      // A listener added now is called by the same `ready` emit that the helper's would have been.
      let readies = 0;
      queue.getBackend().on('ready', () => readies++);
      await restartEmpty(redis);
      await expect.poll(() => readies, { timeout: BACK_WITHIN_MS }).toBeGreaterThan(0);
      expect(declarations).toBe(2);
      expect(await queue.getJobSchedulersCount()).toBe(0);
    } finally {
      await bull.close();
    }
  });
});
