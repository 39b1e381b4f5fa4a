import { connectRedis } from '@sdlab/service-kit/redis';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
  }
}

export interface RedisAdapterOptions {
  url: string;
}

/**
 * The kit's Redis client, tuned so a dead Redis costs the limiter a fast failure, never a wait:
 * - enableOfflineQueue: false: while disconnected a command fails at once instead of queueing until
 *   a reconnect (ioredis's default), which would hold every request for the whole outage;
 * - autoResendUnfulfilledCommands: false: a script that may already have run is not sent again
 *   after a reconnect, which could charge a request twice;
 * - enableAutoPipelining: concurrent checks share one socket write, the cheap way to throughput;
 * - connected in the background: the service starts, and answers by its failure policies, while
 *   Redis is still down; /readyz says so.
 */
export const redisAdapter = fp<RedisAdapterOptions>(
  async (app, options) => {
    // ioredis emits an error for every failed reconnect; log the first of each outage only.
    let down = false;
    const redis = await connectRedis(app, {
      url: options.url,
      options: {
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        enableAutoPipelining: true,
        maxRetriesPerRequest: 1,
        retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
      },
      connect: 'background',
      onError: (err) => {
        if (down) return;
        down = true;
        app.log.warn({ err }, 'redis unreachable; rate-limit failure policies apply until it is back');
      },
    });
    redis.on('ready', () => {
      if (down) app.log.info('redis reachable again');
      down = false;
    });
    app.decorate('redis', redis);
  },
  { name: 'redis' },
);
