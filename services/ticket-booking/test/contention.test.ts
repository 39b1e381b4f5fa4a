import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { checkInvariants, conflictLayers, runBuyers, waitAllSettled } from './support/invariants.ts';
import { withTwoInstances } from './support/two-instances.ts';

describe('contention', () => {
  test('two instances, 500 concurrent buyers, 50 seats: no seat sold twice, one charge per purchase', async ({
    pg,
    redis,
    es,
  }) => {
    const options = {
      sections: [{ name: 'Floor', rows: 5, seatsPerRow: 10 }],
      // A provider on a bad day: declines, lost answers (resolved by a same-key retry or the
      // webhook), and half of the webhooks delivered twice.
      provider: {
        PAYMENT_LATENCY_MS: '5',
        PAYMENT_LATENCY_JITTER_MS: '20',
        PAYMENT_DECLINE_RATE: '0.15',
        PAYMENT_TIMEOUT_RATE: '0.05',
        PAYMENT_SLOW_RESPONSE_MS: '1500',
        WEBHOOK_DUPLICATE_RATE: '0.5',
      },
      booking: { PAYMENT_TIMEOUT_MS: '800', PG_POOL_MAX: '10' },
    };
    await withTwoInstances({ pg, redis, es }, options, async ({ urls, event, seatIds }) => {
      const report = await runBuyers({ urls, eventId: event.id, seatIds, buyers: 500 });
      await waitAllSettled(pg.pool);
      const state = await checkInvariants(pg.pool, event.id, seatIds.length, report);
      const conflicts = await conflictLayers(urls);
      console.log('contention:', JSON.stringify({ ...report.counts, ...state, conflicts }));
      expect(report.counts.holdsOk).toBeGreaterThan(0);
      expect(state.sold).toBeGreaterThan(0);
      expect(report.unexpected).toEqual([]);
    });
  });
});
