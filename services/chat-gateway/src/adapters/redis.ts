import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { createKeys, type Keys } from '../keys.ts';
import { defineScripts } from '../scripts/index.ts';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    /** A second connection in subscriber mode: the instance's pub/sub channel. */
    redisSubscriber: Redis;
    keys: Keys;
  }
}

/**
 * Two Redis connections: commands (registry scripts, PUBLISH, rate limits) and a subscriber,
 * since a connection in subscriber mode can run nothing else. Both are checked by /readyz and
 * closed on shutdown.
 */
export const redisAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const { config } = opts;
    const redis = new Redis(config.REDIS_URL, {
      lazyConnect: true,
      // Fail fast while Redis is away: a send still stores and acks (Postgres), a connect is
      // refused with 1011, and clients retry, instead of commands piling up in an offline queue.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
      connectionName: `${app.kit.name}-cmd`,
    });
    redis.on('error', (err) => app.log.warn({ err }, 'redis connection error'));
    await redis.connect();
    defineScripts(redis);
    app.kit.resources.add('redis', () => redis.quit());
    app.kit.readiness.add('redis', () => redis.ping());

    // Resubscribes by itself after a reconnect (ioredis autoResubscribe). What was published while
    // it was away is lost (pub/sub is fire-and-forget [003:1440]); clients see a seq gap and sync.
    const subscriber = new Redis(config.REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: null,
      connectionName: `${app.kit.name}-sub`,
    });
    subscriber.on('error', (err) => app.log.warn({ err }, 'redis subscriber connection error'));
    await subscriber.connect();
    app.kit.resources.add('redis-subscriber', () => subscriber.quit());
    app.kit.readiness.add('redis-subscriber', async () => {
      if (subscriber.status !== 'ready') throw new Error(`subscriber is ${subscriber.status}`);
    });

    app.decorate('redis', redis);
    app.decorate('redisSubscriber', subscriber);
    app.decorate('keys', createKeys(config.REDIS_KEY_PREFIX));
  },
  { name: 'redis' },
);
