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

/** The Redis client: scripts loaded, checked by /readyz, quit on shutdown. */
export const redisAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const { config } = opts;
    const redis = new Redis(config.REDIS_URL, {
      lazyConnect: true,
      // Dedup and top-K must fail fast: while Redis is away a click is accepted unchecked (and
      // counted as such) instead of the redirect queueing behind reconnect attempts.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
      connectionName: app.kit.name,
    });
    redis.on('error', (err) => app.log.warn({ err }, 'redis connection error'));
    await redis.connect();
    defineScripts(redis);
    app.kit.resources.add('redis', () => redis.quit());
    app.kit.readiness.add('redis', () => redis.ping());
    app.decorate('redis', redis);
    app.decorate('keys', createKeys(config.REDIS_KEY_PREFIX));
  },
  { name: 'redis' },
);
