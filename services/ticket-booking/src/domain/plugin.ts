import { JwtVerifier } from '@sdlab/service-kit/auth';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { PaymentProvider } from '../adapters/payment-provider.ts';
import type { Config } from '../config.ts';
import { createServiceMetrics, type ServiceMetrics } from '../telemetry.ts';
import { CatalogueRepository } from './catalogue.ts';
import { EventCache } from './event-cache.ts';
import { HoldService } from './holds.ts';
import { PurchaseService } from './purchases.ts';
import { EventSearch } from './search.ts';
import { SeatLocks } from './seat-locks.ts';
import { WaitingRoom } from './waiting-room.ts';

export interface Booking {
  config: Config;
  /** Verifies the access tokens that say who a request acts for. */
  tokens: JwtVerifier;
  metrics: ServiceMetrics;
  catalogue: CatalogueRepository;
  cache: EventCache;
  locks: SeatLocks;
  holds: HoldService;
  purchases: PurchaseService;
  search: EventSearch;
  waitingRoom: WaitingRoom;
}

declare module 'fastify' {
  interface FastifyInstance {
    booking: Booking;
  }
}

/** The domain services, built over the adapters and decorated once as `app.booking`. */
export const bookingDomain = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const { config } = opts;
    const metrics = createServiceMetrics(app.kit.metrics);
    const catalogue = new CatalogueRepository(app.pg);
    const locks = new SeatLocks(app.redis, app.keys);
    const provider = new PaymentProvider({
      baseUrl: config.PAYMENT_PROVIDER_URL,
      apiKey: config.PAYMENT_PROVIDER_API_KEY,
      timeoutMs: config.PAYMENT_TIMEOUT_MS,
      currency: config.PAYMENT_CURRENCY,
      maxResponseBytes: config.PAYMENT_MAX_RESPONSE_BYTES,
    });
    const cache = new EventCache({
      redis: app.redis,
      keys: app.keys,
      catalogue,
      ttlS: config.EVENT_CACHE_TTL_S,
      metrics,
      log: app.log,
    });
    const waitingRoom = new WaitingRoom({
      redis: app.redis,
      keys: app.keys,
      secret: config.WAITING_ROOM_SECRET,
      tokenTtlS: config.WAITING_ROOM_TOKEN_TTL_S,
      batch: config.WAITING_ROOM_ADMIT_BATCH,
      everyMs: config.WAITING_ROOM_ADMIT_EVERY_MS,
      streamTicketTtlS: config.WAITING_ROOM_MAX_STREAM_S,
    });
    app.decorate('booking', {
      config,
      tokens: new JwtVerifier({
        secret: config.JWT_SECRET,
        issuer: config.JWT_ISSUER,
        audience: config.JWT_AUDIENCE,
      }),
      metrics,
      catalogue,
      cache,
      locks,
      holds: new HoldService({
        pool: app.pg,
        locks,
        cache,
        waitingRoom,
        metrics,
        log: app.log,
        ttlMs: config.HOLD_TTL_MS,
        maxSeats: config.HOLD_MAX_SEATS,
        maxActivePerUser: config.HOLD_MAX_ACTIVE_PER_USER,
        redisPolicy: config.REDIS_FAILURE_POLICY,
        batch: { maxHolds: config.HOLD_BATCH_MAX, inFlight: config.HOLD_BATCHES_IN_FLIGHT },
      }),
      purchases: new PurchaseService({
        pool: app.pg,
        provider,
        locks,
        metrics,
        log: app.log,
        graceMs: config.PURCHASE_GRACE_MS,
        retries: config.PAYMENT_RETRIES,
        currency: config.PAYMENT_CURRENCY,
      }),
      search: new EventSearch(app.es, config.SEARCH_INDEX),
      waitingRoom,
    });
  },
  { name: 'booking-domain', dependencies: ['postgres', 'redis', 'elasticsearch'] },
);
