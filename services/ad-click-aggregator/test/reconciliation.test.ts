import { test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { buildApp } from '../src/main.ts';
import { buildWorker } from '../src/worker.ts';
import { ADMIN } from './support/auth.ts';
import { ClickPlan } from './support/click-plan.ts';
import { sorted, storedCounts } from './support/counts.ts';
import { spooledEnv } from './support/env.ts';
import { metric } from './support/metrics.ts';
import { waitAllCommitted } from './support/offsets.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** POST /reconciliations for the hour from T0, as an operator. */
function reconcileFirstHour(app: Awaited<ReturnType<typeof buildApp>>['app']) {
  return app.inject({
    method: 'POST',
    headers: ADMIN,
    url: '/reconciliations',
    payload: { from: new Date(T0).toISOString(), to: new Date(T0 + 3_600_000).toISOString() },
  });
}

describe('reconciliation', () => {
  test('a BullMQ job recounts a period from the raw clicks and corrects only windows drifting past the threshold', async ({
    pg,
    redis,
    kafka,
  }) => {
    // 1% here, so a small drift on a large window shows the threshold at work.
    const { topics, spool, env } = await spooledEnv({ pg, redis, kafka }, 2, {
      RECONCILE_DRIFT_THRESHOLD: '0.01',
    });
    const worker = await buildWorker(env);
    const { app } = await buildApp(env);
    try {
      const plan = new ClickPlan();
      plan.steady(2, 2000, T0, 1000);
      const producer = kafka.kafka.producer();
      await producer.connect();
      await plan.produce(producer, topics.clicks);
      await producer.disconnect();
      await waitAllCommitted(pg.pool, kafka.admin, topics.clicks);
      const truth = await storedCounts(pg.pool, 'minute');
      expect(sorted(truth)).toEqual(sorted(plan.expected()));

      // Drift, as a bug or a bad restore would leave it: one minute over-counted, one lost, and a
      // day window off by 2 of 1,000 (0.2%, under the 1% threshold).
      const [overKey, lostKey] = [...truth.keys()];
      const [overAd, overAt] = overKey!.split('|');
      const [lostAd, lostAt] = lostKey!.split('|');
      await pg.pool.query(
        'UPDATE adclick.clicks_minute SET clicks = clicks + 7 WHERE ad_id = $1 AND window_start = $2',
        [overAd, overAt],
      );
      await pg.pool.query('DELETE FROM adclick.clicks_minute WHERE ad_id = $1 AND window_start = $2', [
        lostAd,
        lostAt,
      ]);
      const day = await pg.pool.query<{ ad_id: string; window_start: Date; clicks: string }>(
        'UPDATE adclick.clicks_day SET clicks = clicks + 2 WHERE ad_id = $1 RETURNING ad_id, window_start, clicks::text',
        [overAd],
      );

      const queued = await reconcileFirstHour(app);
      expect(queued.statusCode).toBe(202);
      const { id } = queued.json();
      const done = await waitFor('the reconciliation job', async () => {
        const status = (await app.inject({ url: `/reconciliations/${id}`, headers: ADMIN })).json();
        if (status.state === 'failed') throw new Error(status.failedReason);
        return status.state === 'completed' ? status : undefined;
      });

      const { granularities, corrections } = done.report;
      expect(granularities.minute).toMatchObject({ windowsCorrected: 2, batchClicks: plan.messages.length });
      expect(granularities.day.windowsCorrected).toBe(0);
      expect(
        corrections
          .map((c: { adId: string; windowStart: string; stream: number; batch: number }) => [
            `${c.adId}|${c.windowStart}`,
            c.stream,
            c.batch,
          ])
          .sort(),
      ).toEqual(
        [
          [overKey, truth.get(overKey!)! + 7, truth.get(overKey!)],
          [lostKey, 0, truth.get(lostKey!)],
        ].sort(),
      );
      expect(sorted(await storedCounts(pg.pool, 'minute'))).toEqual(sorted(truth));
      const dayAfter = await storedCounts(pg.pool, 'day');
      expect(dayAfter.get(`${day.rows[0]!.ad_id}|${day.rows[0]!.window_start.toISOString()}`)).toBe(
        Number(day.rows[0]!.clicks),
      );
      // The lost window drifted 100% (stream 0, recount n): the largest drift of the run.
      expect(await metric(worker.app.kit.metrics, 'sdlab_adclick_reconcile_max_drift_ratio')).toBe(1);
      const runs = await pg.pool.query('SELECT windows_corrected FROM adclick.reconciliation_runs');
      expect(runs.rows).toEqual([{ windows_corrected: 2 }]);
      // Polled hard while it finishes, a reconciliation never answers `completed` without its
      // report: the route read the job before its state, so one finishing in between had none.
      const pollers = 4;
      for (let round = 0; round < 6; round++) {
        const again = await reconcileFirstHour(app);
        expect(again.statusCode).toBe(202);
        const url = `/reconciliations/${again.json().id}`;
        const deadline = Date.now() + 30_000;
        const finished = await Promise.all(
          Array.from({ length: pollers }, async () => {
            let status: { state: string; report?: unknown };
            do status = (await app.inject({ url, headers: ADMIN })).json();
            while (status.state !== 'completed' && status.state !== 'failed' && Date.now() < deadline);
            return status;
          }),
        );
        expect(finished.map((s) => s.state)).toEqual(Array(pollers).fill('completed'));
        expect(finished.filter((s) => s.report === undefined)).toEqual([]);
      }

      console.info('reconciliation observed', {
        clicks: plan.messages.length,
        minuteWindows: granularities.minute.windowsChecked,
        corrected: corrections.length,
        maxDrift: await metric(worker.app.kit.metrics, 'sdlab_adclick_reconcile_max_drift_ratio'),
        dayDriftLeft: 2 / (Number(day.rows[0]!.clicks) - 2),
      });
    } finally {
      await app.close();
      await worker.app.close();
      spool.remove();
    }
  });
});
