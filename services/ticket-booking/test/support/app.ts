import { buildApp as buildProvider } from '@sdlab/payment-provider';
import { type EsFixture, freePort, type PgFixture, type RedisFixture } from '@sdlab/testkit';
import { buildApp } from '../../src/main.ts';
import { buildWorker } from '../../src/worker.ts';
import { bookingEnv, WEBHOOK_SECRET } from './env.ts';

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

export type BookingStack = Awaited<ReturnType<typeof startBookingWithProvider>>;
type StackOptions = Parameters<typeof startBookingWithProvider>[1];

/** Booking and provider wired to each other for the length of `use`, both closed however it ends. */
export async function withBookingStack(
  fx: Parameters<typeof startBookingWithProvider>[0],
  ...args:
    | [use: (stack: BookingStack) => Promise<void>]
    | [options: StackOptions, use: (stack: BookingStack) => Promise<void>]
): Promise<void> {
  const [options, use] = args.length === 1 ? [{}, args[0]] : args;
  const stack = await startBookingWithProvider(fx, options);
  try {
    await use(stack);
  } finally {
    await stack.close();
  }
}

/**
 * Stack options for a charge whose answer is lost: booking gives up after 200 ms without a retry,
 * the provider answers after `slowResponseMs` and posts its webhook `webhookDelayMs` later.
 */
export function answerLost(slowResponseMs: number, webhookDelayMs: number): StackOptions {
  return {
    booking: { PAYMENT_TIMEOUT_MS: '200', PAYMENT_RETRIES: '0' },
    provider: { PAYMENT_SLOW_RESPONSE_MS: String(slowResponseMs), WEBHOOK_DELAY_MS: String(webhookDelayMs) },
  };
}

/** The booking app for the length of `use`, closed however it ends. */
export async function withBooking(
  env: NodeJS.ProcessEnv,
  use: (service: Awaited<ReturnType<typeof startBooking>>) => Promise<void>,
): Promise<void> {
  const service = await startBooking(env);
  try {
    await use(service);
  } finally {
    await service.app.close();
  }
}

/** The booking app and its worker (outbox relay, sweeper) on one env for the length of `use`. */
export async function withBookingAndWorker(
  env: NodeJS.ProcessEnv,
  use: (
    app: Awaited<ReturnType<typeof startBooking>>['app'],
    worker: Awaited<ReturnType<typeof buildWorker>>,
  ) => Promise<void>,
): Promise<void> {
  const { app } = await startBooking(env);
  const worker = await buildWorker(env);
  try {
    await use(app, worker);
  } finally {
    await worker.app.close();
    await app.close();
  }
}
