import { trace } from '@opentelemetry/api';
import { LATENCY_BUCKETS } from '@sdlab/service-kit';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

// The aggregator's own signals, beside the kit's RED metrics. Each app or worker instance registers
// them on its own registry (app.kit.metrics), so two instances in one test process never share counts.

export const tracer = trace.getTracer('@sdlab/ad-click-aggregator');

/** Span attribute keys the service sets (the README lists what each span carries). */
export const Attr = {
  adId: 'sdlab.adclick.ad_id',
  outcome: 'sdlab.adclick.click_outcome',
  batchSize: 'sdlab.adclick.batch_size',
  partitions: 'sdlab.adclick.partitions',
  inserted: 'sdlab.adclick.raw_inserted',
  deadLettered: 'sdlab.adclick.dead_lettered',
} as const;

/** Span links per batch span: the first click is the parent, this many more are linked. */
export const MAX_LINKS = 32;

export type ClickOutcome = 'recorded' | 'duplicate' | 'rejected' | 'dropped';

export function createIngestMetrics(registry: Registry, live: { spoolBacklogBytes: () => number }) {
  const registers = [registry];
  return {
    clicks: new Counter({
      name: 'sdlab_adclick_ingest_clicks_total',
      help: 'Clicks by outcome: recorded (spooled), duplicate (impression seen within the dedup window), rejected (bad impression), dropped (spool full or failing)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    rejected: new Counter({
      name: 'sdlab_adclick_ingest_rejected_total',
      help: 'Refused impression ids by reason: malformed, bad_signature, expired, not_yet_valid, unknown_ad',
      labelNames: ['reason'] as const,
      registers,
    }),
    dedupUnavailable: new Counter({
      name: 'sdlab_adclick_ingest_dedup_unavailable_total',
      help: 'Clicks accepted without the dedup check because Redis did not answer (fail-open)',
      registers,
    }),
    spoolSync: new Histogram({
      name: 'sdlab_adclick_spool_sync_seconds',
      help: 'Write + fdatasync of one group-commit batch of the spool',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    spoolBatch: new Histogram({
      name: 'sdlab_adclick_spool_group_commit_records',
      help: 'Clicks made durable by one fdatasync (group commit)',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    }),
    dedupBatch: new Histogram({
      name: 'sdlab_adclick_dedup_batch_keys',
      help: 'Impression keys checked by one Redis dedup call (the clicks that arrived while the previous call was in flight)',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    }),
    spoolBacklogBytes: new Gauge({
      name: 'sdlab_adclick_spool_backlog_bytes',
      help: 'Spooled bytes not yet acknowledged by Kafka',
      registers,
      // Read at scrape time, so it is never older than the scrape.
      collect() {
        this.set(live.spoolBacklogBytes());
      },
    }),
    shipped: new Counter({
      name: 'sdlab_adclick_spool_shipped_total',
      help: 'Clicks produced from the spool and acknowledged by Kafka (acks=all)',
      registers,
    }),
    shipFailures: new Counter({
      name: 'sdlab_adclick_spool_ship_failures_total',
      help: 'Produce attempts from the spool that failed (the batch stays spooled and is retried)',
      registers,
    }),
    kafkaConnected: new Gauge({
      name: 'sdlab_adclick_ingest_kafka_connected',
      help: '1 while the last produce succeeded, 0 while Kafka is unavailable and clicks wait in the spool',
      registers,
    }),
  };
}
export type IngestMetrics = ReturnType<typeof createIngestMetrics>;

export function createAggregatorMetrics(registry: Registry) {
  const registers = [registry];
  return {
    consumed: new Counter({
      name: 'sdlab_adclick_aggregator_events_total',
      help: 'Consumed messages by disposition: on_time, late_counted (window already passed, within lateness), dead_letter, malformed',
      labelNames: ['disposition'] as const,
      registers,
    }),
    lateness: new Histogram({
      name: 'sdlab_adclick_aggregator_event_lateness_seconds',
      help: 'How far behind its partition newest event a click arrived',
      buckets: [0, 1, 5, 10, 30, 60, 120, 300, 600, 3600],
      registers,
    }),
    rawDuplicates: new Counter({
      name: 'sdlab_adclick_aggregator_raw_duplicates_total',
      help: 'Consumed clicks already stored (the same click produced twice, e.g. a spool replay): not counted again',
      registers,
    }),
    counted: new Counter({
      name: 'sdlab_adclick_aggregator_counted_total',
      help: 'Clicks added to the per-window counts',
      registers,
    }),
    deadLettered: new Counter({
      name: 'sdlab_adclick_aggregator_dead_lettered_total',
      help: 'Messages produced to the dead-letter topic, by reason (too_late, malformed)',
      labelNames: ['reason'] as const,
      registers,
    }),
    flushes: new Counter({
      name: 'sdlab_adclick_aggregator_flushes_total',
      help: 'Flushes by trigger (interval, size, caught_up, rebalance, shutdown) and result (committed, fenced, failed)',
      labelNames: ['trigger', 'result'] as const,
      registers,
    }),
    flushDuration: new Histogram({
      name: 'sdlab_adclick_aggregator_flush_seconds',
      help: 'One flush transaction: raw insert, roll-up upserts and offsets',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    pending: new Gauge({
      name: 'sdlab_adclick_aggregator_pending_events',
      help: 'Consumed events waiting for the next flush',
      registers,
    }),
    consumedOffset: new Gauge({
      name: 'sdlab_adclick_aggregator_consumed_offset',
      help: 'Next offset to consume, per partition this instance owns',
      labelNames: ['partition'] as const,
      registers,
    }),
    committedOffset: new Gauge({
      name: 'sdlab_adclick_aggregator_committed_offset',
      help: 'Next offset stored in Postgres with the counts, per partition this instance owns',
      labelNames: ['partition'] as const,
      registers,
    }),
    lag: new Gauge({
      name: 'sdlab_adclick_aggregator_consumer_lag_messages',
      help: 'Messages in the partition not yet committed to Postgres (high watermark − committed offset)',
      labelNames: ['partition'] as const,
      registers,
    }),
    watermark: new Gauge({
      name: 'sdlab_adclick_aggregator_watermark_seconds',
      help: 'Per-partition watermark (newest event time − allowed lateness), seconds since the epoch',
      labelNames: ['partition'] as const,
      registers,
    }),
    rebalances: new Counter({
      name: 'sdlab_adclick_aggregator_rebalances_total',
      help: 'Group joins of this instance (each one drops partition state and reloads it from Postgres)',
      registers,
    }),
    assigned: new Gauge({
      name: 'sdlab_adclick_aggregator_assigned_partitions',
      help: 'Partitions this instance owns after its last group join',
      registers,
    }),
    reconcileDrift: new Gauge({
      name: 'sdlab_adclick_reconcile_max_drift_ratio',
      help: 'Largest |stream − recount| / recount of any window in the last reconciliation',
      registers,
    }),
    reconcileCorrected: new Counter({
      name: 'sdlab_adclick_reconcile_corrected_windows_total',
      help: 'Windows whose stored count drifted past the threshold and was corrected, by granularity',
      labelNames: ['granularity'] as const,
      registers,
    }),
    reconcileRuns: new Counter({
      name: 'sdlab_adclick_reconcile_runs_total',
      help: 'Reconciliation runs by result',
      labelNames: ['result'] as const,
      registers,
    }),
  };
}
export type AggregatorMetrics = ReturnType<typeof createAggregatorMetrics>;
