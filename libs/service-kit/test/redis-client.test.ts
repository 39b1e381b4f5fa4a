import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startPrivateRedis, test } from '@sdlab/testkit';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { connectRedis, failFastRedisOptions, failFastRedisPlugin } from '../src/redis.ts';
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

  test('failFastRedisOptions: a command is refused while Redis is away and times out while it stalls', async () => {
    const server = await startPrivateRedis();
    const { host, close } = kitHost();
    try {
      const redis = await connectRedis(host, {
        url: server.url,
        options: { ...failFastRedisOptions(300), retryStrategy: () => 100 },
      });
      await redis.set('k', 'v');
      // Up but not answering: CLIENT PAUSE holds every other client's commands for 3 s.
      const pauser = new Redis(server.url);
      try {
        await pauser.client('PAUSE', 3000, 'ALL');
        await expect(redis.get('k')).rejects.toThrow(/Command timed out/);
        await pauser.client('UNPAUSE');
      } finally {
        pauser.disconnect();
      }
      await eventually('answering again', async () => (await redis.get('k').catch(() => null)) === 'v');

      await server.kill();
      await eventually('the client sees it', () => redis.status !== 'ready');
      // Not queued behind the reconnect attempts.
      await expect(redis.get('k')).rejects.toThrow(/enableOfflineQueue/);
    } finally {
      await close();
      await server.dispose();
    }
  });

  test('failFastRedisPlugin: a named plugin that connects fail-fast, defines the scripts and decorates redis and keys', async ({
    redis: shared,
  }) => {
    const { kit, ready, close } = kitHost('kit-plugin');
    const app = Fastify();
    app.decorate('kit', kit as never);
    const defined: Redis[] = [];
    await app.register(
      failFastRedisPlugin({
        createKeys: (prefix: string) => ({ item: (id: string) => `${prefix}item:${id}` }),
        defineScripts: (client) => defined.push(client),
      }),
      { config: { REDIS_URL: shared.url, REDIS_COMMAND_TIMEOUT_MS: 400, REDIS_KEY_PREFIX: shared.prefix } },
    );
    await app.ready();
    try {
      const decorated = app as unknown as { redis: Redis; keys: { item(id: string): string } };
      expect(defined).toEqual([decorated.redis]);
      expect(decorated.keys.item('1')).toBe(`${shared.prefix}item:1`);
      expect(decorated.redis.options).toMatchObject({
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: 400,
      });
      expect(await decorated.redis.client('GETNAME')).toBe('kit-plugin');
      expect(await ready()).toEqual({ redis: true });
      expect(app.hasPlugin('redis')).toBe(true);
    } finally {
      await app.close();
      await close();
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
