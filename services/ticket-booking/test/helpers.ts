import { fileURLToPath } from 'node:url';
import { buildApp as buildProvider } from '@sdlab/payment-provider';
import type { App } from '@sdlab/service-kit';
import { DEV_JWT_SECRET, JwtIssuer } from '@sdlab/service-kit/auth';
import {
  type EsFixture,
  freePort,
  type LoggedSpan,
  type PgFixture,
  type RedisFixture,
  type ServiceProcess,
  startServiceProcess,
} from '@sdlab/testkit';
import { buildApp } from '../src/main.ts';
import { ADMIN_SCOPE } from '../src/routes/admin/index.ts';

export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789';

/** Signs access tokens as an identity provider would, with the service's development settings. */
const issuer = new JwtIssuer({
  secret: DEV_JWT_SECRET,
  issuer: 'sdlab-dev-identity',
  audience: 'ticket-booking',
});
/** Headers of an operator: a token with the admin scope. */
export const admin = {
  authorization: `Bearer ${(await issuer.issue('test-admin', { scopes: [ADMIN_SCOPE] })).token}`,
};

/** The booking service's environment for one test: its own database, key prefix and index. */
export function bookingEnv(
  fx: { pg: PgFixture; redis: RedisFixture; es: EsFixture },
  overrides: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: fx.pg.url,
    REDIS_URL: fx.redis.url,
    REDIS_KEY_PREFIX: fx.redis.prefix,
    ELASTICSEARCH_URL: fx.es.url,
    SEARCH_INDEX: fx.es.index('events'),
    PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PG_POOL_MAX: '8',
    ...overrides,
  };
}

export async function startBooking(env: NodeJS.ProcessEnv) {
  const service = await buildApp(env);
  return service;
}

/** A payment provider on a free port, posting its webhooks to `webhookUrl`. */
export async function startProvider(
  pgUrl: string,
  webhookUrl: string,
  overrides: Record<string, string> = {},
) {
  const service = await buildProvider({
    DATABASE_URL: pgUrl,
    WEBHOOK_URL: webhookUrl,
    WEBHOOK_SECRET,
    WEBHOOK_DELAY_MS: '0',
    WEBHOOK_POLL_MS: '50',
    PAYMENT_LATENCY_MS: '0',
    PAYMENT_LATENCY_JITTER_MS: '5',
    PAYMENT_DECLINE_RATE: '0',
    WEBHOOK_DUPLICATE_RATE: '0',
    LOG_LEVEL: 'silent',
    PG_POOL_MAX: '5',
    ...overrides,
  });
  await service.app.listen({ host: '127.0.0.1', port: 0 });
  const address = service.app.server.address() as { port: number };
  return { ...service, url: `http://127.0.0.1:${address.port}` };
}

/** Booking + provider wired to each other over real HTTP (webhooks included). */
export async function startBookingWithProvider(
  fx: { pg: PgFixture; redis: RedisFixture; es: EsFixture },
  options: { booking?: Record<string, string>; provider?: Record<string, string> } = {},
) {
  const port = await freePort();
  const provider = await startProvider(
    fx.pg.url,
    `http://127.0.0.1:${port}/webhooks/payments`,
    options.provider,
  );
  const booking = await buildApp(bookingEnv(fx, { PAYMENT_PROVIDER_URL: provider.url, ...options.booking }));
  await booking.app.listen({ host: '127.0.0.1', port });
  return {
    booking,
    provider,
    app: booking.app,
    async close() {
      await booking.app.close();
      await provider.app.close();
    },
  };
}

export interface Sections {
  name: string;
  rows: number;
  seatsPerRow: number;
}

/** A venue and an event on it through the admin API; returns the event and its seat ids. */
export async function createEvent(
  app: App,
  options: {
    sections?: Sections[];
    priceCents?: number;
    waitingRoom?: boolean;
    name?: string;
    performer?: string;
    city?: string;
    category?: string;
    startsAt?: string;
    description?: string;
    venueName?: string;
  } = {},
) {
  const venue = await app.inject({
    method: 'POST',
    url: '/admin/venues',
    headers: admin,
    payload: {
      name: options.venueName ?? 'Test Arena',
      city: options.city ?? 'Lyon',
      sections: options.sections ?? [{ name: 'A', rows: 5, seatsPerRow: 10 }],
    },
  });
  if (venue.statusCode !== 201) throw new Error(`venue: ${venue.statusCode} ${venue.body}`);
  const event = await app.inject({
    method: 'POST',
    url: '/admin/events',
    headers: admin,
    payload: {
      venueId: venue.json().id,
      name: options.name ?? 'Test Night',
      performer: options.performer ?? 'The Testers',
      description: options.description ?? 'A night of tests',
      category: options.category ?? 'concert',
      startsAt: options.startsAt ?? new Date(Date.now() + 30 * 86_400_000).toISOString(),
      defaultPriceCents: options.priceCents ?? 5000,
      waitingRoom: options.waitingRoom ?? false,
    },
  });
  if (event.statusCode !== 201) throw new Error(`event: ${event.statusCode} ${event.body}`);
  const seats = await app.inject({ url: `/events/${event.json().id}/seats?limit=1000` });
  return {
    event: event.json() as { id: string; version: number; name: string },
    seatIds: (seats.json().data as { id: number }[]).map((s) => s.id),
  };
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Headers of a request acting for user `id`: a valid access token for them. */
export async function user(id: string): Promise<{ authorization: string }> {
  return { authorization: `Bearer ${await userToken(id)}` };
}

export async function userToken(id: string): Promise<string> {
  return (await issuer.issue(id)).token;
}

export type Span = LoggedSpan;

/** A booking instance as its own OS process (`node src/main.ts`), for multi-process guarantees. */
export function spawnBooking(
  env: NodeJS.ProcessEnv,
  port: number,
  options: {
    entry?: 'src/main.ts' | 'src/worker.ts';
    traced?: boolean;
    /** Another service's folder (the payment provider), run the same way. */
    dir?: string;
  } = {},
): Promise<ServiceProcess> {
  return startServiceProcess(options.entry ?? 'src/main.ts', {
    cwd: options.dir ?? fileURLToPath(new URL('..', import.meta.url)),
    env: { ...env, LOG_LEVEL: 'warn' },
    port,
    spanLog: options.traced ?? false,
  });
}
