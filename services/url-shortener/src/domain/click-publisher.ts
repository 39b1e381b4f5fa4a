import { context, type Link, trace } from '@opentelemetry/api';
import { untraced, withTraceContext } from '@sdlab/service-kit';
import type { FastifyBaseLogger } from 'fastify';
import { type Message, Partitioners, type PartitionMetadata, type Producer } from 'kafkajs';
import type { ServiceMetrics } from '../telemetry.ts';
import { Attr } from '../telemetry.ts';
import { type LinkClicks, LinkClicksBuilder, MAX_CLICKS_PER_MESSAGE } from './clicks.ts';

const tracer = trace.getTracer('url-shortener');
/** A flush span links to at most this many redirects (Jaeger shows them as references). */
const MAX_LINKS = 64;
/** Codes whose partition is remembered (a few MB at most). */
const PARTITION_CACHE_MAX = 65_536;

/**
 * Sends click events to Kafka off the request path. A redirect only appends to a buffer; the
 * buffer is sent as one produce request every `flushMs` or as soon as `batchMax` events wait
 * (kafkajs has no linger of its own). One send is in flight at a time, and the buffer is bounded:
 * while Kafka is down, clicks beyond `bufferMax` are dropped and counted instead of growing the
 * heap until the process dies. Failed sends are counted and logged, never surfaced to a visitor.
 *
 * A flush's clicks are packed into one message per partition (a JSON array), each link placed
 * by its code's key with the murmur2 partitioner a keyed message would get, so a link's clicks
 * still land in one partition. A message per click cost the API and the worker more than the rest
 * of a cached redirect: record encoding and decoding per click and, when traced, a producer and a
 * consumer span per click. Within a flush a link's clicks are gathered in columns (LinkClicks):
 * every click keeps its time and visitor, but the redirect allocates no object for it, and the
 * link's code is written, hashed to its partition and parsed once per flush, not once per click.
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
  /** The clicks waiting for the next flush, by link. */
  #buffer = new Map<string, LinkClicksBuilder>();
  #buffered = 0;
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
    // A link's partition never changes; kafkajs' partitioner (murmur2, its message object and a
    // filter of the partition list per call) was 0.8 us per link of every flush in a CPU profile of
    // cached redirects. Remembered per code, bounded: a full map starts over.
    const partitions = new Map<string, number>();
    this.#partitionOf = (code) => {
      let partition = partitions.get(code);
      if (partition === undefined) {
        if (partitions.size >= PARTITION_CACHE_MAX) partitions.clear();
        partition = partitioner({
          topic: options.topic,
          partitionMetadata,
          message: { key: code, value: null },
        });
        partitions.set(code, partition);
      }
      return partition;
    };
    this.#flushMs = options.flushMs;
    this.#batchMax = options.batchMax;
    this.#bufferMax = options.bufferMax;
    this.#metrics = options.metrics;
    this.#log = options.log;
  }

  /**
   * One click of `code` at `at` (epoch ms) by `visitor`; `trace` is a traced redirect's context.
   * Synchronous and never throws: the redirect does not wait for Kafka.
   */
  publish(code: string, at: number, visitor: string, trace?: Record<string, string>): void {
    if (this.#buffered >= this.#bufferMax) {
      this.#metrics.clicksFailed.inc({ reason: 'buffer_full' });
      return;
    }
    let link = this.#buffer.get(code);
    if (link === undefined) {
      link = new LinkClicksBuilder(code, at);
      this.#buffer.set(code, link);
    }
    link.add(at, visitor, trace);
    if (++this.#buffered >= this.#batchMax) this.#flush();
    else this.#schedule();
  }

  /** Sends what is buffered and waits for it (shutdown, tests). */
  async drain(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#buffered > 0 || this.#sending) await this.#flush();
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
      if (this.#buffered > 0) this.#schedule();
    });
    return this.#sending;
  }

  async #sendAll(): Promise<void> {
    while (this.#buffered > 0) {
      // Everything waiting goes in one produce request; the messages are bounded, not the request.
      const batch: Batch = { links: [...this.#buffer.values()], clicks: this.#buffered };
      this.#buffer = new Map();
      this.#buffered = 0;
      this.#metrics.clickBuffer.set(0);
      await this.#send(batch);
    }
  }

  async #send(batch: Batch): Promise<void> {
    // Only a traced redirect carries a trace context; any of the batch's may, not just the first.
    const links: Link[] = [];
    for (const link of batch.links) {
      for (const [, carrier] of link.traces()) {
        if (links.length >= MAX_LINKS) break;
        const spanContext = withTraceContext(carrier, () => trace.getSpanContext(context.active()));
        if (spanContext) links.push({ context: spanContext });
      }
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
      span.setAttribute(Attr.clickCount, batch.clicks);
      const error = await this.#produce(batch);
      if (error) span.recordException(error);
      span.end();
    });
  }

  /** Sends a batch; a failure is counted, logged and returned, never thrown. */
  async #produce(batch: Batch): Promise<Error | undefined> {
    try {
      await this.#producer.send({ topic: this.#topic, acks: -1, messages: this.#pack(batch) });
      this.#metrics.clicksProduced.inc(batch.clicks);
      return undefined;
    } catch (err) {
      this.#metrics.clicksFailed.inc({ reason: 'send' }, batch.clicks);
      this.#log.error(
        { err, events: batch.clicks, topic: this.#topic },
        'click events lost: kafka send failed',
      );
      return err as Error;
    }
  }

  /** One message per partition, or more where one would exceed MAX_CLICKS_PER_MESSAGE clicks. */
  #pack(batch: Batch): Message[] {
    const open = new Map<number, { records: LinkClicks[]; clicks: number }>();
    const messages: Message[] = [];
    const close = (partition: number, message: { records: LinkClicks[] }) =>
      messages.push({ partition, value: JSON.stringify(message.records) });
    for (const link of batch.links) {
      for (const record of link.records(MAX_CLICKS_PER_MESSAGE)) {
        const partition = this.#partitionOf(record.code);
        let message = open.get(partition);
        if (message && message.clicks + record.dt.length > MAX_CLICKS_PER_MESSAGE) {
          close(partition, message);
          message = undefined;
        }
        if (!message) {
          message = { records: [], clicks: 0 };
          open.set(partition, message);
        }
        message.records.push(record);
        message.clicks += record.dt.length;
      }
    }
    for (const [partition, message] of open) close(partition, message);
    return messages;
  }
}

/** What one flush sends: the links' columns and their number of clicks. */
interface Batch {
  links: LinkClicksBuilder[];
  clicks: number;
}
