import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import type { AggregatorMetrics } from '../telemetry.ts';
import { ceilTo, floorTo, GRANULARITIES, type Granularity, TABLE } from './granularity.ts';
import { assertReconcilable } from './reconcile-guard.ts';
import type { TopK } from './topk.ts';

// The batch layer [004:1495-1502]: recount a past period from the raw clicks, compare with the
// stream's roll-ups, correct every window that drifts by more than the threshold (0.1%), and
// report the drift. The raw rows and the counts are written by the same transaction, so drift here
// means something outside the pipeline's contract happened (a bug, a manual edit, a restore from
// an older backup) — which is exactly what a reconciliation is for.

export interface ReconcileOptions {
  threshold: number;
  alertRatio: number;
}

export interface GranularityReport {
  windowsChecked: number;
  windowsCorrected: number;
  maxDrift: number;
  streamClicks: number;
  batchClicks: number;
}

export interface ReconcileReport {
  runId: number;
  from: string;
  to: string;
  granularities: Record<Granularity, GranularityReport>;
  corrections: {
    granularity: Granularity;
    adId: string;
    windowStart: string;
    stream: number;
    batch: number;
    drift: number;
  }[];
}

// One statement per granularity: recount, compare, correct. A correction adds (recount − stream)
// as of the statement's snapshot, rather than overwriting, so a flush that commits meanwhile (its
// raw rows and its count increments are both outside that snapshot) keeps its increment.
const reconcileSql = (g: Granularity) => `
WITH batch AS (
  SELECT ad_id, date_trunc('${g}', clicked_at, 'UTC') AS window_start, count(*) AS clicks
  FROM adclick.raw_clicks
  WHERE NOT late AND clicked_at >= $1 AND clicked_at < $2
  GROUP BY 1, 2
), compared AS (
  SELECT coalesce(b.ad_id, s.ad_id) AS ad_id,
         coalesce(b.window_start, s.window_start) AS window_start,
         coalesce(b.clicks, 0) AS batch,
         coalesce(s.clicks, 0) AS stream,
         s.ad_id IS NOT NULL AS stored
  FROM batch b
  FULL JOIN (SELECT ad_id, window_start, clicks FROM ${TABLE[g]} WHERE window_start >= $1 AND window_start < $2) s
    ON s.ad_id = b.ad_id AND s.window_start = b.window_start
), drifted AS (
  SELECT *, abs(stream - batch)::float8 / greatest(batch, 1) AS drift FROM compared
), updated AS (
  UPDATE ${TABLE[g]} c SET clicks = c.clicks + (d.batch - d.stream), updated_at = now()
  FROM drifted d
  WHERE d.drift > $3 AND d.stored AND c.ad_id = d.ad_id AND c.window_start = d.window_start
  RETURNING c.ad_id
), inserted AS (
  INSERT INTO ${TABLE[g]} AS c (ad_id, window_start, clicks)
  SELECT ad_id, window_start, batch FROM drifted WHERE drift > $3 AND NOT stored
  ON CONFLICT (ad_id, window_start) DO UPDATE SET clicks = c.clicks + excluded.clicks, updated_at = now()
  RETURNING c.ad_id
)
SELECT ad_id, window_start, batch, stream, drift,
       (SELECT count(*) FROM compared) AS checked,
       (SELECT coalesce(sum(stream), 0) FROM compared) AS stream_total,
       (SELECT coalesce(sum(batch), 0) FROM compared) AS batch_total,
       (SELECT max(drift) FROM drifted) AS max_drift,
       (SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted) AS corrected
FROM drifted WHERE drift > $3
UNION ALL
-- One summary row even when nothing drifted.
SELECT NULL, NULL, NULL, NULL, NULL,
       (SELECT count(*) FROM compared), (SELECT coalesce(sum(stream), 0) FROM compared),
       (SELECT coalesce(sum(batch), 0) FROM compared), (SELECT max(drift) FROM drifted),
       (SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted)`;

interface Row {
  ad_id: string | null;
  window_start: Date | null;
  batch: number | null;
  stream: number | null;
  drift: number | null;
  checked: number;
  stream_total: number;
  batch_total: number;
  max_drift: number | null;
  corrected: number;
}

/** Reconciles [from, to): minute windows inside it, and the hours and days that overlap it. */
export async function reconcile(
  deps: { pool: pg.Pool; topK: TopK; metrics?: AggregatorMetrics; log: FastifyBaseLogger },
  period: { from: number; to: number },
  options: ReconcileOptions,
): Promise<ReconcileReport> {
  const { pool, log, metrics } = deps;
  // Checked again here, when the job runs: partitions may have been dropped since it was queued.
  await assertReconcilable(pool, period);
  const startedAt = new Date();
  const granularities = {} as Record<Granularity, GranularityReport>;
  const corrections: ReconcileReport['corrections'] = [];
  for (const g of GRANULARITIES) {
    const from = floorTo(period.from, g);
    const to = ceilTo(period.to, g);
    const { rows } = await pool.query<Row>(reconcileSql(g), [
      new Date(from).toISOString(),
      new Date(to).toISOString(),
      options.threshold,
    ]);
    const summary = rows.at(-1)!;
    granularities[g] = {
      windowsChecked: Number(summary.checked),
      windowsCorrected: Number(summary.corrected),
      maxDrift: summary.max_drift ?? 0,
      streamClicks: Number(summary.stream_total),
      batchClicks: Number(summary.batch_total),
    };
    for (const row of rows) {
      if (row.ad_id === null) continue;
      corrections.push({
        granularity: g,
        adId: row.ad_id,
        windowStart: row.window_start!.toISOString(),
        stream: Number(row.stream),
        batch: Number(row.batch),
        drift: row.drift!,
      });
    }
    metrics?.reconcileCorrected.inc({ granularity: g }, granularities[g].windowsCorrected);
  }
  await deps.topK
    .invalidate(
      corrections.map((c) => ({ granularity: c.granularity, windowStart: Date.parse(c.windowStart) })),
    )
    .catch((err: unknown) => log.warn({ err }, 'could not drop corrected top-K sets'));

  const minute = granularities.minute;
  const maxDrift = Math.max(...GRANULARITIES.map((g) => granularities[g].maxDrift));
  const { rows } = await pool.query<{ id: number }>(
    `INSERT INTO adclick.reconciliation_runs
       (period_from, period_to, windows_checked, windows_corrected, max_drift, stream_clicks, batch_clicks, started_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [
      new Date(period.from).toISOString(),
      new Date(period.to).toISOString(),
      minute.windowsChecked,
      corrections.filter((c) => c.granularity === 'minute').length,
      maxDrift,
      minute.streamClicks,
      minute.batchClicks,
      startedAt.toISOString(),
    ],
  );
  metrics?.reconcileDrift.set(maxDrift);
  metrics?.reconcileRuns.inc({ result: 'completed' });
  for (const c of corrections.slice(0, 100)) log.info({ correction: c }, 'reconciliation corrected a window');
  const report: ReconcileReport = {
    runId: rows[0]!.id,
    from: new Date(period.from).toISOString(),
    to: new Date(period.to).toISOString(),
    granularities,
    corrections,
  };
  const ratio = minute.windowsChecked === 0 ? 0 : minute.windowsCorrected / minute.windowsChecked;
  const summary = { runId: report.runId, from: report.from, to: report.to, maxDrift, granularities };
  if (ratio > options.alertRatio) {
    log.warn(
      { ...summary, correctedRatio: ratio },
      'reconciliation corrected more windows than the alert ratio: pipeline issue',
    );
  } else {
    log.info(summary, 'reconciliation finished');
  }
  return report;
}
