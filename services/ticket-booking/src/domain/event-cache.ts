import { trace } from '@opentelemetry/api';
import { isPostgresUnavailable } from '@sdlab/service-kit/postgres';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { BookingErrors } from '../errors.ts';
import type { Keys } from '../keys.ts';
import { Attr, type ServiceMetrics } from '../telemetry.ts';
import type { CatalogueRepository, EventDetails } from './catalogue.ts';

/**
 * Cache-aside for event details (the page every buyer of a hot event opens, and every hold reads
 * for the waiting-room flag): Redis first, Postgres on a miss, then fill Redis with a jittered
 * TTL. A change deletes the key after its transaction commits; the outbox relay deletes it once
 * more after indexing ("delayed double delete"), which closes the window where a read that
 * started before the commit refills the cache with the old row. Seat availability is never
 * cached here: it changes with every hold and is read live.
 */
export class EventCache {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #catalogue: CatalogueRepository;
  readonly #ttlS: number;
  readonly #metrics: ServiceMetrics;
  readonly #log: FastifyBaseLogger;

  constructor(deps: {
    redis: Redis;
    keys: Keys;
    catalogue: CatalogueRepository;
    ttlS: number;
    metrics: ServiceMetrics;
    log: FastifyBaseLogger;
  }) {
    this.#redis = deps.redis;
    this.#keys = deps.keys;
    this.#catalogue = deps.catalogue;
    this.#ttlS = deps.ttlS;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
  }

  async get(eventId: string): Promise<EventDetails | undefined> {
    const key = this.#keys.eventDetails(eventId);
    let redisOk = true;
    try {
      const cached = await this.#redis.get(key);
      if (cached) {
        this.#record('hit');
        return JSON.parse(cached) as EventDetails;
      }
    } catch (err) {
      redisOk = false;
      this.#log.warn({ err: (err as Error).message }, 'event cache read failed; reading Postgres');
    }
    let event: EventDetails | undefined;
    try {
      event = await this.#catalogue.getEvent(eventId);
    } catch (error) {
      // A miss while Postgres is away: the coded 503 with Retry-After, not a bare 500.
      throw isPostgresUnavailable(error) ? new BookingErrors.StoreUnavailable({ cause: error }) : error;
    }
    this.#record(redisOk ? 'miss' : 'error');
    if (event && redisOk) {
      const ttl = Math.max(1, Math.round(this.#ttlS * (0.9 + Math.random() * 0.2)));
      await this.#redis.set(key, JSON.stringify(event), 'EX', ttl).catch(() => undefined);
    }
    return event;
  }

  async invalidate(eventId: string): Promise<void> {
    await this.#redis.del(this.#keys.eventDetails(eventId)).catch((err) => {
      // The TTL bounds how long a stale entry can live when this fails.
      this.#log.warn({ err: (err as Error).message, eventId }, 'event cache invalidation failed');
    });
  }

  #record(result: 'hit' | 'miss' | 'error'): void {
    this.#metrics.eventCache.inc({ result });
    trace.getActiveSpan()?.setAttribute(Attr.cache, result);
  }
}
