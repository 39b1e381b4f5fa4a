import { connectRedis, failFastRedisOptions } from '@sdlab/service-kit/redis';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
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
 * Two Redis connections from the kit: commands (registry scripts, PUBLISH, rate limits) and a
 * subscriber, since a connection in subscriber mode can run nothing else. Both are checked by
 * /readyz and closed on shutdown.
 */
export const redisAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const { config } = opts;
    const redis = await connectRedis(app, {
      url: config.REDIS_URL,
      connectionName: `${app.kit.name}-cmd`,
      // Fail fast while Redis is away: a send still stores and acks (Postgres), a connect is
      // refused with 1011, and clients retry, instead of commands piling up in an offline queue.
      options: failFastRedisOptions(config.REDIS_COMMAND_TIMEOUT_MS),
    });
    defineScripts(redis);

    // Resubscribes by itself after a reconnect (ioredis autoResubscribe). What was published while
    // it was away is lost (pub/sub is fire-and-forget [003:1440]); clients see a seq gap and sync.
    const subscriber = await connectRedis(app, {
      url: config.REDIS_URL,
      name: 'redis-subscriber',
      connectionName: `${app.kit.name}-sub`,
      options: { maxRetriesPerRequest: null },
      // Its state, not a PING: with the offline queue on, a PING while it reconnects would wait out
      // the readiness timeout.
      ready: async (client) => {
        if (client.status !== 'ready') throw new Error(`subscriber is ${client.status}`);
      },
    });

    app.decorate('redis', redis);
    app.decorate('redisSubscriber', subscriber);
    app.decorate('keys', createKeys(config.REDIS_KEY_PREFIX));
  },
  { name: 'redis' },
);
