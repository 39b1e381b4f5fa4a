import { context, type Link, trace } from '@opentelemetry/api';
import { untraced, withTraceContext } from '@sdlab/service-kit';
import type { FastifyBaseLogger } from 'fastify';
import { type Message, Partitioners, type PartitionMetadata, type Producer } from 'kafkajs';
import type { ServiceMetrics } from '../telemetry.ts';
import { Attr } from '../telemetry.ts';
import type { ClickEvent } from './clicks.ts';

const tracer = trace.getTracer('url-shortener');
/** A flush span links to at most this many redirects (Jaeger shows them as references). */
const MAX_LINKS = 64;

/**
 * Sends click events to Kafka off the request path. A redirect only appends to a buffer; the
 * buffer is sent as one produce request every `flushMs` or as soon as `batchMax` events wait
 * (kafkajs has no linger of its own). One send is in flight at a time, and the buffer is bounded:
 * while Kafka is down, clicks beyond `bufferMax` are dropped and counted instead of growing the
 * heap until the process dies. Failed sends are counted and logged, never surfaced to a visitor.
 *
 * A flush's clicks are packed into one message per partition (a JSON array), each click placed
 * by its code's key with the murmur2 partitioner a keyed message would get, so a link's clicks
 * still land in one partition. A message per click cost the API and the worker more than the rest
 * of a cached redirect: record encoding and decoding per click and, when traced, a producer and a
 * consumer span per click.
 */
export class ClickPublisher {
  readonly #producer: Producer;
  readonly #topic: string;
  readonly #partitionOf: (code: string) => number;
  readonly #flushMs: number;
  readonly #batchMax: number;
  readonly #bufferMax: number;
  readonly #metrics: ServiceMetrics;
  readonly #log: FastifyBaseLogger;
  #buffer: ClickEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;

  constructor(options: {
    producer: Producer;
    topic: string;
    /** The topic's partition count, read when it was set up. */
    partitions: number;
    flushMs: number;
    batchMax: number;
    bufferMax: number;
    metrics: ServiceMetrics;
    log: FastifyBaseLogger;
  }) {
    this.#producer = options.producer;
    this.#topic = options.topic;
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from(
      { length: Math.max(1, options.partitions) },
      (_, partitionId): PartitionMetadata => ({
        partitionId,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [],
        isr: [],
      }),
    );
    this.#partitionOf = (code) =>
      partitioner({ topic: options.topic, partitionMetadata, message: { key: code, value: null } });
    this.#flushMs = options.flushMs;
    this.#batchMax = options.batchMax;
    this.#bufferMax = options.bufferMax;
    this.#metrics = options.metrics;
    this.#log = options.log;
  }

  /** Synchronous and never throws: the redirect does not wait for Kafka. */
  publish(event: ClickEvent): void {
    if (this.#buffer.length >= this.#bufferMax) {
      this.#metrics.clicksFailed.inc({ reason: 'buffer_full' });
      return;
    }
    this.#buffer.push(event);
    if (this.#buffer.length >= this.#batchMax) this.#flush();
    else this.#schedule();
  }

  /** Sends what is buffered and waits for it (shutdown, tests). */
  async drain(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#buffer.length > 0 || this.#sending) await this.#flush();
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, this.#flushMs);
  }

  #flush(): Promise<void> {
    this.#sending ??= this.#sendAll().finally(() => {
      this.#sending = undefined;
      // Events that arrived after the last batch left wait for the next tick of the timer.
      if (this.#buffer.length > 0) this.#schedule();
    });
    return this.#sending;
  }

  async #sendAll(): Promise<void> {
    while (this.#buffer.length > 0) {
      const batch = this.#buffer.splice(0, this.#batchMax);
      this.#metrics.clickBuffer.set(this.#buffer.length);
      await this.#send(batch);
    }
  }

  async #send(batch: ClickEvent[]): Promise<void> {
    // Only a traced redirect carries a trace context; any of the batch's may, not just the first.
    const links: Link[] = [];
    for (const event of batch) {
      if (links.length >= MAX_LINKS) break;
      if (!event.trace) continue;
      const spanContext = withTraceContext(event.trace, () => trace.getSpanContext(context.active()));
      if (spanContext) links.push({ context: spanContext });
    }
    if (links.length === 0) {
      // No traced redirect in this batch: no flush trace either. A root span here would take the
      // rate-limited sampler's tokens (a flush every 50 ms) from the requests it is meant for.
      await untraced(() => this.#produce(batch));
      return;
    }
    // A trace of its own (root), linked to the redirects it carries: the timer that triggers the
    // flush inherits the context of whichever request armed it, and one batch is no child of that.
    await tracer.startActiveSpan('shortener.clicks.flush', { root: true, links }, async (span) => {
      span.setAttribute(Attr.clickCount, batch.length);
      const error = await this.#produce(batch);
      if (error) span.recordException(error);
      span.end();
    });
  }

  /** Sends a batch; a failure is counted, logged and returned, never thrown. */
  async #produce(batch: ClickEvent[]): Promise<Error | undefined> {
    try {
      await this.#producer.send({ topic: this.#topic, acks: -1, messages: this.#pack(batch) });
      this.#metrics.clicksProduced.inc(batch.length);
      return undefined;
    } catch (err) {
      this.#metrics.clicksFailed.inc({ reason: 'send' }, batch.length);
      this.#log.error(
        { err, events: batch.length, topic: this.#topic },
        'click events lost: kafka send failed',
      );
      return err as Error;
    }
  }

  #pack(batch: readonly ClickEvent[]): Message[] {
    const byPartition = new Map<number, ClickEvent[]>();
    for (const event of batch) {
      const partition = this.#partitionOf(event.code);
      const events = byPartition.get(partition);
      if (events) events.push(event);
      else byPartition.set(partition, [event]);
    }
    return [...byPartition].map(([partition, events]) => ({ partition, value: JSON.stringify(events) }));
  }
}
