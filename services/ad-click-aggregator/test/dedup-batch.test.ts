import { once } from 'node:events';
import { test } from '@sdlab/testkit';
import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { DedupBatch } from '../src/domain/dedup-batch.ts';
import { defineScripts } from '../src/scripts/index.ts';

describe('dedup batch', () => {
  test('concurrent clicks share calls; each impression is first exactly once, in click order', async ({
    redis,
  }) => {
    defineScripts(redis.client);
    const batches: number[] = [];
    const dedup = new DedupBatch(redis.client, 60, { onBatch: (keys) => batches.push(keys), maxKeys: 50 });
    // 300 impressions, each clicked three times, all in flight at once.
    const keys = Array.from({ length: 300 }, (_, i) => redis.key(`dedup:imp-${i}`));
    const clicks = [...keys, ...keys, ...keys];
    const answers = await Promise.all(clicks.map((key) => dedup.firstClick(key)));
    expect(answers.slice(0, 300).every((first) => first)).toBe(true);
    expect(answers.slice(300).some((first) => first)).toBe(false);
    // Calls, not commands: the 900 checks went in batches of at most 50.
    expect(batches.reduce((a, b) => a + b, 0)).toBe(900);
    expect(Math.max(...batches)).toBe(50);
    expect(batches.length).toBe(18);
    // The keys are set with the TTL, as SET NX EX would.
    const ttl = await redis.client.ttl(keys[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
    // A later click on a known impression is a repeat; a new one is first.
    expect(await dedup.firstClick(keys[7]!)).toBe(false);
    expect(await dedup.firstClick(redis.key('dedup:imp-new'))).toBe(true);
  });

  test('a repeat inside one batch is first only at its first place', async ({ redis }) => {
    defineScripts(redis.client);
    const dedup = new DedupBatch(redis.client, 60);
    const a = redis.key('dedup:a');
    const b = redis.key('dedup:b');
    expect(await Promise.all([a, b, a, a, b].map((key) => dedup.firstClick(key)))).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
  });

  test('every click of a call rejects while Redis is not reachable, and a later call is answered', async ({
    redis,
  }) => {
    const broken = new Redis(redis.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    defineScripts(broken);
    const dedup = new DedupBatch(broken, 60);
    const results = await Promise.allSettled(
      [1, 2, 3].map((i) => dedup.firstClick(redis.key(`dedup:x${i}`))),
    );
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    // The first command started the lazy connection; once it is up, calls are answered again.
    if (broken.status !== 'ready') await once(broken, 'ready');
    try {
      expect(await dedup.firstClick(redis.key('dedup:x1'))).toBe(true);
    } finally {
      broken.disconnect();
    }
  });
});
