import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { createKeys, type Keys } from '../keys.ts';
import { defineScripts } from '../scripts/index.ts';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    keys: Keys;
  }
}

export function createRedis(config: Config, name: string): Redis {
  return new Redis(config.REDIS_URL, {
    lazyConnect: true,
    // The lock and the cache must fail fast: while Redis is away a hold goes on to Postgres (or
    // answers 503, by policy) instead of queueing behind reconnect attempts.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
    connectionName: name,
  });
}

/** The Redis client: scripts loaded, checked by /readyz, quit on shutdown. */
export const redisAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const redis = createRedis(opts.config, app.kit.name);
    redis.on('error', (err) => app.log.warn({ err: err.message }, 'redis connection error'));
    await redis.connect();
    defineScripts(redis);
    // QUIT waits for a reply that a dead server never sends; then just drop the connection.
    app.kit.resources.add('redis', async () => {
      if (redis.status !== 'ready') return redis.disconnect();
      await redis.quit().catch(() => redis.disconnect());
    });
    app.kit.readiness.add('redis', () => redis.ping());
    app.decorate('redis', redis);
    app.decorate('keys', createKeys(opts.config.REDIS_KEY_PREFIX));
  },
  { name: 'redis' },
);
