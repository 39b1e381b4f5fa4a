import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startPrivateRedis, test } from '@sdlab/testkit';
import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { connectRedis } from '../src/redis.ts';
import { eventually, kitHost } from './fixtures/kit-host.ts';

describe('connectRedis (real Redis)', () => {
  test('connected under the service name with the options given, checked by readiness, quit on close', async ({
    redis: shared,
  }) => {
    const { host, kit, ready, close } = kitHost('kit-redis');
    const redis = await connectRedis(host, {
      url: shared.url,
      options: { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 750 },
    });
    const second = await connectRedis(host, {
      url: shared.url,
      name: 'redis-second',
      connectionName: 'kit-redis-second',
    });
    try {
      expect(redis.status).toBe('ready');
      expect(await redis.client('GETNAME')).toBe('kit-redis');
      expect(await second.client('GETNAME')).toBe('kit-redis-second');
      expect(redis.options).toMatchObject({
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: 750,
      });
      expect(second.options).toMatchObject({ enableOfflineQueue: true, maxRetriesPerRequest: 20 });
      expect(kit.readiness.names).toEqual(['redis', 'redis-second']);
      expect(await ready()).toEqual({ redis: true, 'redis-second': true });
      expect(kit.resources.names).toEqual(['redis', 'redis-second']);
    } finally {
      await close();
    }
    await eventually('both connections ended', () => redis.status === 'end' && second.status === 'end');
    expect(await shared.client.client('LIST')).not.toMatch(/name=kit-redis/);
  });

  test('a stopped server: errors are warnings, readiness fails, recovers; closing while down is at once', async () => {
    const server = await startPrivateRedis();
    const { host, lines, ready, close } = kitHost();
    let closed = false;
    try {
      const redis = await connectRedis(host, {
        url: server.url,
        options: { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 100 },
      });
      expect(await ready()).toEqual({ redis: true });

      await server.kill();
      await eventually('a connection error logged', () =>
        lines.some((l) => l.level === 40 && l.msg === 'redis connection error'),
      );
      expect(await ready()).toEqual({ redis: false });

      await server.start();
      await eventually('readiness back', async () => (await ready()).redis === true);

      await server.kill();
      await eventually('the client sees it', () => redis.status !== 'ready');
      // QUIT would be refused (offline queue off) and leave the client reconnecting.
      const started = Date.now();
      await close();
      closed = true;
      expect(Date.now() - started).toBeLessThan(1000);
      expect(lines.some((l) => l.msg === 'failed to close')).toBe(false);
      await server.start();
      await sleep(1000); // ten reconnect intervals
      const probe = new Redis(server.url);
      try {
        expect(await probe.client('LIST')).not.toMatch(/name=kit-test /);
      } finally {
        probe.disconnect();
      }
    } finally {
      if (!closed) await close();
      await server.dispose();
    }
  });

  test("'background' starts without Redis and becomes ready when it comes; 'wait' fails start-up", async () => {
    const server = await startPrivateRedis();
    await server.kill();
    const { host, ready, close } = kitHost();
    try {
      await expect(connectRedis(host, { url: server.url, name: 'waits' })).rejects.toThrow();
      const redis = await connectRedis(host, {
        url: server.url,
        options: { enableOfflineQueue: false, retryStrategy: () => 100 },
        connect: 'background',
      });
      expect(redis.status).not.toBe('ready');
      expect(await ready()).toEqual({ redis: false });
      await server.start();
      await eventually('readiness once Redis is up', async () => (await ready()).redis === true);
    } finally {
      await close();
      await server.dispose();
    }
  });

  test('onError replaces the warning; ready replaces PING', async () => {
    const port = await freePort();
    const { host, lines, ready, close } = kitHost();
    const seen: Error[] = [];
    try {
      await connectRedis(host, {
        url: `redis://127.0.0.1:${port}`,
        options: { enableOfflineQueue: false, retryStrategy: () => 100 },
        connect: 'background',
        onError: (err) => seen.push(err),
        ready: async (client) => {
          if (client.status !== 'ready') throw new Error(`client is ${client.status}`);
        },
      });
      await eventually('an error reported', () => seen.length > 0);
      expect(lines.filter((l) => l.msg === 'redis connection error')).toEqual([]);
      const [check] = await host.kit.readiness.run();
      expect(check).toMatchObject({ name: 'redis', ok: false, error: expect.stringMatching(/^client is /) });
      expect(await ready()).toEqual({ redis: false });
    } finally {
      await close();
    }
  });
});
