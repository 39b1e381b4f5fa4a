import { type EsFixture, freePort, type PgFixture, type RedisFixture } from '@sdlab/testkit';
import { buildApp } from '../../src/main.ts';
import { startProvider } from './app.ts';
import { bookingEnv } from './env.ts';
import { createEvent, type Sections } from './events.ts';
import { spawnBooking } from './processes.ts';

export interface TwoInstances {
  /** The two booking processes' base URLs. */
  urls: [string, string];
  event: { id: string };
  seatIds: number[];
}

/**
 * Two booking processes on one database, key prefix and index, behind one payment provider that
 * posts its webhooks to the first, for the length of `use`; all three stopped however it ends.
 * The schema is migrated and the event of `sections` created through an in-process app first.
 */
export async function withTwoInstances(
  fx: { pg: PgFixture; redis: RedisFixture; es: EsFixture },
  options: { sections: Sections[]; provider?: Record<string, string>; booking?: Record<string, string> },
  use: (run: TwoInstances) => Promise<void>,
): Promise<void> {
  const [portA, portB] = [await freePort(), await freePort()];
  const provider = await startProvider(
    fx.pg.url,
    `http://127.0.0.1:${portA}/webhooks/payments`,
    options.provider,
  );
  try {
    const env = bookingEnv(fx, { PAYMENT_PROVIDER_URL: provider.url, ...options.booking });
    const setup = await buildApp(env);
    let created: Awaited<ReturnType<typeof createEvent>>;
    try {
      created = await createEvent(setup.app, { sections: options.sections });
    } finally {
      await setup.app.close();
    }
    const instances = await Promise.all([spawnBooking(env, portA), spawnBooking(env, portB)]);
    try {
      await use({ urls: [instances[0].url, instances[1].url], ...created });
    } finally {
      await Promise.all(instances.map((i) => i.stop()));
    }
  } finally {
    await provider.app.close();
  }
}
