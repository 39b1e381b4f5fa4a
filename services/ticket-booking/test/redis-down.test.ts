import { freePort, startPrivateRedis, test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { buildApp } from '../src/main.ts';
import { startProvider } from './support/app.ts';
import { user } from './support/auth.ts';
import { bookingEnv } from './support/env.ts';
import { createEvent } from './support/events.ts';
import { checkInvariants, conflictLayers, runBuyers, waitAllSettled } from './support/invariants.ts';

describe('Redis stopped mid-run', () => {
  test('no double sale: the database alone decides, and every refusal is a clear coded error', async ({
    pg,
    redis,
    es,
  }) => {
    const privateRedis = await startPrivateRedis();
    const [portA, portB] = [await freePort(), await freePort()];
    const provider = await startProvider(pg.url, `http://127.0.0.1:${portA}/webhooks/payments`, {
      PAYMENT_DECLINE_RATE: '0.1',
      WEBHOOK_DUPLICATE_RATE: '0.3',
    });
    const base = { REDIS_URL: privateRedis.url, PAYMENT_PROVIDER_URL: provider.url };
    // Instance A carries on with Postgres alone; instance B refuses holds (503) without its lock.
    const a = await buildApp(bookingEnv({ pg, redis, es }, { ...base, REDIS_FAILURE_POLICY: 'db-only' }));
    const b = await buildApp(bookingEnv({ pg, redis, es }, { ...base, REDIS_FAILURE_POLICY: 'fail-closed' }));
    await a.app.listen({ host: '127.0.0.1', port: portA });
    await b.app.listen({ host: '127.0.0.1', port: portB });
    let killed = false;
    const urls = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
    try {
      const { event, seatIds } = await createEvent(a.app, {
        sections: [{ name: 'Floor', rows: 3, seatsPerRow: 10 }],
      });
      const report = await runBuyers({
        urls,
        eventId: event.id,
        seatIds,
        buyers: 300,
        afterEach: async (done) => {
          if (done === 100 && !killed) {
            killed = true;
            await privateRedis.kill();
          }
        },
      });
      expect(killed).toBe(true);
      await waitAllSettled(pg.pool);
      const state = await checkInvariants(pg.pool, event.id, seatIds.length, report);
      const layers = await conflictLayers(urls);
      console.log('redis-down:', JSON.stringify({ ...report.counts, ...state, conflicts: layers }));
      expect(report.unexpected).toEqual([]);
      // Both layers decided something: Redis before the kill, Postgres alone after it.
      expect(layers.lock_bypass).toBeGreaterThan(0);
      // The fail-closed instance said so clearly.
      const refused = await fetch(`${urls[1]}/events/${event.id}/holds`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(await user('late')) },
        body: JSON.stringify({ seatIds: [seatIds[0]] }),
      });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(((await refused.json()) as { code: string }).code).toBe('SDLAB_BOOKING_LOCK_UNAVAILABLE');
    } finally {
      await a.app.close();
      await b.app.close();
      await provider.app.close();
      // Killed on purpose mid-run; a private Redis keeps no files, so there is nothing left to dispose.
      if (!killed) await privateRedis.dispose();
    }
  });
});
