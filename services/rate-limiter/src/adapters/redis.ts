import fp from 'fastify-plugin';
import { Redis } from 'ioredis';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
  }
}

export interface RedisAdapterOptions {
  url: string;
}

/**
 * The Redis client of the limiter, tuned so a dead Redis costs a fast failure, never a wait:
 * - enableOfflineQueue: false: while disconnected a command fails at once instead of queueing until
 *   a reconnect (ioredis's default), which would hold every request for the whole outage;
 * - autoResendUnfulfilledCommands: false: a script that may already have run is not sent again
 *   after a reconnect, which could charge a request twice;
 * - enableAutoPipelining: concurrent checks share one socket write, the cheap way to throughput;
 * - lazyConnect with the connection made in the background: the service starts, and answers by its
 *   failure policies, while Redis is still down; /readyz says so.
 */
export const redisAdapter = fp<RedisAdapterOptions>(
  async (app, options) => {
    const redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 1,
      connectionName: app.kit.name,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    });
    // ioredis emits an error for every failed reconnect; log the first of each outage only.
    let down = false;
    redis.on('error', (err) => {
      if (down) return;
      down = true;
      app.log.warn({ err }, 'redis unreachable; rate-limit failure policies apply until it is back');
    });
    redis.on('ready', () => {
      if (down) app.log.info('redis reachable again');
      down = false;
    });
    redis.connect().catch(() => undefined); // retried by retryStrategy; readiness reports it

    app.decorate('redis', redis);
    app.kit.readiness.add('redis', () => redis.ping());
    app.kit.resources.add('redis', async () => {
      if (redis.status === 'ready') await redis.quit();
      else redis.disconnect();
    });
  },
  { name: 'redis' },
);
