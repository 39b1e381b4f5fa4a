import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Redis, type RedisOptions } from 'ioredis';
import type { KitHost } from './create-service.ts';
import { keepRedisSpansInTheirTrace } from './redis-span-context.ts';
import { telemetryStarted } from './trace-context.ts';

export interface RedisConnection {
  url: string;
  /**
   * What differs per service and connection, each with its reason in the service: fail fast
   * ({@link failFastRedisOptions}, for a cache or a lock) or queue (a subscriber), the retry
   * strategy. The kit sets `lazyConnect` and `connectionName`.
   */
  options?: RedisOptions;
  /** Its name in /readyz and the shutdown log: 'redis', unless the service holds two. */
  name?: string;
  /** Its name in CLIENT LIST: the service's name, unless the service holds two. */
  connectionName?: string;
  /**
   * 'wait' (the default): start-up fails while Redis is down. 'background': the service starts
   * and answers without Redis while ioredis keeps reconnecting; /readyz reports it.
   */
  connect?: 'wait' | 'background';
  /** The readiness check: PING, unless the connection cannot run one. */
  ready?: (redis: Redis) => Promise<unknown>;
  /** Replaces the kit's warning on each 'error' (ioredis emits one per failed reconnect). */
  onError?: (err: Error) => void;
}

/**
 * Options for a connection whose caller has a way on without Redis (a cache falls through to
 * Postgres, a lock or a dedup check is skipped by policy): no offline queue, so a command fails at
 * once while Redis is away instead of queueing behind reconnect attempts (ioredis' default queues
 * and retries 20 times); one retry per command; and a command timeout for a Redis that is up but
 * stopped answering. Spread it and add what else the connection needs.
 */
export function failFastRedisOptions(commandTimeoutMs: number): RedisOptions {
  return { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: commandTimeoutMs };
}

/**
 * An ioredis client with the kit's conventions: named after the service in CLIENT LIST, its
 * errors logged as warnings (unhandled, ioredis prints each to stderr, outside the logs),
 * connected, checked by /readyz and closed on shutdown.
 */
export async function connectRedis(host: KitHost, connection: RedisConnection): Promise<Redis> {
  const { kit, log } = host;
  const name = connection.name ?? 'redis';
  const redis = new Redis(connection.url, {
    ...connection.options,
    lazyConnect: true,
    connectionName: connection.connectionName ?? kit.name,
  });
  if (telemetryStarted()) keepRedisSpansInTheirTrace(redis);
  redis.on('error', connection.onError ?? ((err: Error) => log.warn({ err }, `${name} connection error`)));
  if (connection.connect === 'background') redis.connect().catch(() => undefined);
  else {
    await redis.connect().catch((error: unknown) => {
      redis.disconnect(); // not left reconnecting behind a start-up that failed
      throw error;
    });
  }
  kit.resources.add(name, () => closeRedis(redis));
  const ready = connection.ready ?? ((client: Redis) => client.ping());
  kit.readiness.add(name, () => ready(redis));
  return redis;
}

/**
 * QUIT while the connection is up, dropping it if QUIT fails (it times out on a server that stopped
 * answering). One that is down is just dropped: with the offline queue off, QUIT on it would fail
 * at once and leave ioredis reconnecting, holding the process open.
 */
async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') return redis.disconnect();
  await redis.quit().catch(() => redis.disconnect());
}

/** The config fields {@link failFastRedisPlugin} reads: the names every service uses. */
export interface FailFastRedisConfig {
  REDIS_URL: string;
  REDIS_COMMAND_TIMEOUT_MS: number;
  REDIS_KEY_PREFIX: string;
}

/**
 * The Redis adapter of a service whose one connection fails fast (a cache, a lock, a dedup set):
 * a fastify plugin named 'redis' that connects with {@link failFastRedisOptions}, registers the
 * service's Lua scripts, and decorates `redis` and the service's key builder as `keys`. Declare
 * both decorations' types in the service (module augmentation), where `Keys` is known.
 */
export function failFastRedisPlugin<Keys extends object>(service: {
  createKeys: (prefix: string) => Keys;
  defineScripts?: (redis: Redis) => void;
  /** Added to the fail-fast options (auto-pipelining, say), each with its reason in the service. */
  options?: RedisOptions;
}) {
  return fp(
    async (app: FastifyInstance, opts: { config: FailFastRedisConfig }) => {
      const { config } = opts;
      const redis = await connectRedis(app, {
        url: config.REDIS_URL,
        options: { ...failFastRedisOptions(config.REDIS_COMMAND_TIMEOUT_MS), ...service.options },
      });
      service.defineScripts?.(redis);
      app.decorate('redis', redis);
      // Typed by the service's own augmentation, which the kit cannot see: decorated by a plain name.
      const keysName: string = 'keys';
      app.decorate<object>(keysName, service.createKeys(config.REDIS_KEY_PREFIX));
    },
    { name: 'redis' },
  );
}
