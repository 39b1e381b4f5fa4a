import { freePort, test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { buildApp } from '../src/main.ts';
import { startProvider } from './support/app.ts';
import { bookingEnv } from './support/env.ts';
import { createEvent } from './support/events.ts';
import { checkInvariants, conflictLayers, runBuyers } from './support/invariants.ts';
import { spawnBooking } from './support/processes.ts';

describe('contention', () => {
  test('two instances, 500 concurrent buyers, 50 seats: no seat sold twice, one charge per purchase', async ({
    pg,
    redis,
    es,
  }) => {
    const [portA, portB] = [await freePort(), await freePort()];
    // A provider on a bad day: declines, lost answers (resolved by a same-key retry or the
    // webhook), and half of the webhooks delivered twice.
    const provider = await startProvider(pg.url, `http://127.0.0.1:${portA}/webhooks/payments`, {
      PAYMENT_LATENCY_MS: '5',
      PAYMENT_LATENCY_JITTER_MS: '20',
      PAYMENT_DECLINE_RATE: '0.15',
      PAYMENT_TIMEOUT_RATE: '0.05',
      PAYMENT_SLOW_RESPONSE_MS: '1500',
      WEBHOOK_DUPLICATE_RATE: '0.5',
    });
    const env = bookingEnv(
      { pg, redis, es },
      { PAYMENT_PROVIDER_URL: provider.url, PAYMENT_TIMEOUT_MS: '800', PG_POOL_MAX: '10' },
    );
    // Migrate and create the event through an in-process app, then serve buyers from two processes.
    const setup = await buildApp(env);
    const { event, seatIds } = await createEvent(setup.app, {
      sections: [{ name: 'Floor', rows: 5, seatsPerRow: 10 }],
    });
    await setup.app.close();
    const instances = await Promise.all([spawnBooking(env, portA), spawnBooking(env, portB)]);
    try {
      const report = await runBuyers({
        urls: instances.map((i) => i.url),
        eventId: event.id,
        seatIds,
        buyers: 500,
      });
      await waitFor('every purchase to be settled', async () => {
        const { rows } = await pg.pool.query(
          `SELECT count(*)::int AS n FROM booking.purchases WHERE status = 'PENDING'`,
        );
        return rows[0].n === 0;
      });
      const state = await checkInvariants(pg.pool, event.id, seatIds.length, report);
      const conflicts = await conflictLayers(instances.map((i) => i.url));
      console.log('contention:', JSON.stringify({ ...report.counts, ...state, conflicts }));
      expect(report.counts.holdsOk).toBeGreaterThan(0);
      expect(state.sold).toBeGreaterThan(0);
      expect(report.unexpected).toEqual([]);
    } finally {
      await Promise.all(instances.map((i) => i.stop()));
      await provider.app.close();
    }
  });
});
