import { type Link, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { withTraceContext } from '@sdlab/service-kit';
import { backoffDelay } from '@sdlab/service-kit/retry';
import type { FastifyBaseLogger } from 'fastify';
import type { Producer } from 'kafkajs';
import { Attr, type IngestMetrics, MAX_LINKS, tracer } from '../telemetry.ts';
import { encodeClick, type SpoolRecord } from './click-event.ts';
import type { Spool } from './spool.ts';

/** Ceiling of the first wait after a failed send; it doubles up to `retryMaxMs`. */
const FIRST_RETRY_MS = 100;

export interface ShipperOptions {
  spool: Spool;
  /** Makes a connected idempotent producer; called again after a failure that may have broken it. */
  connect: () => Promise<Producer>;
  topic: string;
  batchMax: number;
  /** Wait after a batch that was not full, so that the next one carries more (SHIP_LINGER_MS; none by default). */
  lingerMs?: number;
  retryMaxMs: number;
  metrics: IngestMetrics;
  log: FastifyBaseLogger;
}

/**
 * Moves the spool into Kafka: reads a batch from the checkpoint, produces it (keyed by ad id,
 * acks from all in-sync replicas, idempotent producer), then moves the checkpoint. A failure
 * leaves the checkpoint where it was and retries the same batch after a capped, jittered backoff,
 * so clicks reach Kafka in spool order, at least once.
 */
export class Shipper {
  readonly #o: ShipperOptions;
  #producer: Producer | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #wakeSleep: (() => void) | undefined;

  constructor(options: ShipperOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    const { spool, metrics, log } = this.#o;
    let failures = 0;
    let position = spool.checkpoint;
    while (this.#running) {
      let batch: Awaited<ReturnType<Spool['read']>>;
      try {
        batch = await spool.read(position, this.#o.batchMax);
      } catch (err) {
        log.error({ err, position }, 'reading the spool failed; retrying');
        await this.#sleep(this.#o.retryMaxMs);
        continue;
      }
      const { records, next } = batch;
      if (records.length === 0) {
        if (next.segment !== position.segment || next.offset !== position.offset) {
          await spool.commit(next);
          position = next;
          continue;
        }
        await spool.waitForData(1000);
        continue;
      }
      try {
        this.#producer ??= await this.#o.connect();
        await this.#send(this.#producer, records);
        // Stopped meanwhile: the spool may already belong to a new process; leave the checkpoint
        // (this batch is re-sent, and counted once downstream).
        if (!this.#running) break;
        await spool.commit(next);
        position = next;
        metrics.shipped.inc(records.length);
        metrics.kafkaConnected.set(1);
        if (failures > 0) log.info({ failures }, 'kafka is back: spooled clicks are being delivered');
        failures = 0;
        const linger = this.#o.lingerMs ?? 0;
        if (records.length < this.#o.batchMax && linger > 0) await this.#sleep(linger);
      } catch (err) {
        failures++;
        metrics.shipFailures.inc();
        metrics.kafkaConnected.set(0);
        // Log the first failure and then every 10th, not one line per attempt for a long outage.
        if (failures === 1 || failures % 10 === 0) {
          log.warn(
            { err, failures, backlogBytes: spool.backlogBytes },
            'kafka unavailable: clicks stay in the spool',
          );
        }
        // kafkajs' idempotent producer can be left with sequence numbers the broker no longer
        // accepts after a failed send; a fresh producer gets a fresh producer id. Re-sent clicks
        // are deduplicated by the aggregator's raw-click key.
        const broken = this.#producer;
        this.#producer = undefined;
        await broken?.disconnect().catch(() => undefined);
        // The kit's backoff without its retry(): this loop never gives up, keeps spool order and
        // replaces the producer.
        await this.#sleep(
          backoffDelay(failures, { baseDelayMs: FIRST_RETRY_MS, maxDelayMs: this.#o.retryMaxMs }),
        );
      }
    }
  }

  /**
   * One produce request for the batch. The batch continues the trace of its first click and links
   * the others (a batch span has one parent; OTel messaging conventions use links for the rest),
   * so one click's trace reads: request → spool ship → send → the aggregator's flush.
   */
  async #send(producer: Producer, records: SpoolRecord[]): Promise<void> {
    const traced = records.filter((r) => r.trace);
    const links: Link[] = [];
    for (const r of traced.slice(1, MAX_LINKS + 1)) {
      const span = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, r.trace));
      if (span) links.push({ context: span });
    }
    await withTraceContext(traced[0]?.trace, () =>
      tracer.startActiveSpan(
        'spool ship',
        { kind: SpanKind.INTERNAL, links, attributes: { [Attr.batchSize]: records.length } },
        async (span) => {
          try {
            await producer.send({
              topic: this.#o.topic,
              acks: -1,
              messages: records.map((r) => ({
                key: r.adId,
                value: encodeClick(r),
                timestamp: String(r.clickedAt),
              })),
            });
          } catch (error) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
            throw error;
          } finally {
            span.end();
          }
        },
      ),
    );
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#wakeSleep = undefined;
        resolve();
      }
      this.#wakeSleep = done;
    });
  }

  /**
   * Stops after the batch in flight, waiting for it at most `graceMs` (a connect attempt to an
   * unreachable broker can take longer; it commits nothing once stopped). What is left stays in
   * the spool for the next start.
   */
  async stop(graceMs = 3000): Promise<void> {
    this.#running = false;
    this.#wakeSleep?.();
    this.#o.spool.wake();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#loop, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    await this.#producer?.disconnect().catch(() => undefined);
    this.#producer = undefined;
  }
}
