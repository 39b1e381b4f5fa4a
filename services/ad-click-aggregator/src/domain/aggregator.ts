import { type Link, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { withTraceContext } from '@sdlab/service-kit';
import type { FastifyBaseLogger } from 'fastify';
import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  type Kafka,
  type KafkaMessage,
  Partitioners,
  type Producer,
} from 'kafkajs';
import { type AggregatorMetrics, Attr, MAX_LINKS, tracer } from '../telemetry.ts';
import { type AggregateStore, FencedError, type FlushResult } from './aggregate-store.ts';
import { decodeClick } from './click-event.ts';
import { Mutex } from './mutex.ts';
import type { TopK } from './topk.ts';
import { type DeadLetter, type Disposition, type PartitionFlush, PartitionWindows } from './windows.ts';

export interface AggregatorOptions {
  kafka: Kafka;
  admin: Admin;
  topic: string;
  deadLetterTopic: string;
  groupId: string;
  sessionTimeoutMs: number;
  heartbeatMs: number;
  maxBytesPerPartition: number;
  /** Upper bound of one fetch over all partitions (kafkajs `maxBytes`). */
  fetchMaxBytes: number;
  fetchMinBytes: number;
  fetchMaxWaitMs: number;
  latenessMs: number;
  flushIntervalMs: number;
  flushMaxEvents: number;
  /** Flushes that may commit at once, for disjoint partition sets, each on its own connection. */
  flushConcurrency: number;
  store: AggregateStore;
  topK: TopK;
  metrics: AggregatorMetrics;
  log: FastifyBaseLogger;
}

type FlushTrigger = 'interval' | 'size' | 'caught_up' | 'rebalance' | 'shutdown';

/** A flush whose transaction is running, and the partitions it holds until it ends. */
interface Flight {
  /** No other flush takes these partitions while this one runs: its offsets are their next guard. */
  readonly partitions: Set<number>;
  /** Messages in its snapshot: consumed, not yet committed, already on their way. */
  messages: number;
  done: Promise<void>;
}

/**
 * The stream processor: a Kafka consumer group member that keeps, per owned partition, the
 * windows state of everything consumed since the last commit, and flushes it (partial results,
 * every FLUSH_INTERVAL_MS or FLUSH_MAX_EVENTS) in one Postgres transaction with the offsets.
 *
 * Positions live in Postgres, not in Kafka: when a partition's first batch arrives after an
 * assignment, its state is loaded from Postgres and the consumer seeks there. A crash loses only
 * uncommitted state, which is re-read from the stored offset; a rebalance flushes first, and a
 * consumer that lost a partition before its flush is fenced by the offset compare-and-set.
 * Offsets are also committed to Kafka after each flush, only so lag tools can see them.
 *
 * Up to `flushConcurrency` flushes run at once, each for partitions the others do not hold, so each
 * transaction carries exactly its own partitions' counts and offsets and exactly-once holds per
 * partition; consumption goes on meanwhile (a snapshot took what a flush writes).
 */
export class Aggregator {
  readonly #o: AggregatorOptions;
  readonly #consumer: Consumer;
  readonly #producer: Producer;
  readonly #mutex = new Mutex();
  readonly #states = new Map<number, PartitionWindows>();
  /** Where a partition's first message must start when nothing was stored for it yet. */
  readonly #startAt = new Map<number, number>();
  readonly #highWatermarks = new Map<number, number>();
  /** Per partition, trace contexts of the first clicks consumed since its last flush (parent + links). */
  readonly #traces = new Map<number, Record<string, string>[]>();
  /**
   * The flushes whose transactions are running. A partition is in at most one: the next snapshot's
   * compare-and-set guard is the offset the running flush stores.
   */
  readonly #flights = new Set<Flight>();
  /** After-commit work (top-K, Kafka offsets for lag tools): off the flushes' critical path. */
  readonly #afterCommit = new Set<Promise<void>>();
  /**
   * The backlog found at assignment: per partition with messages beyond its stored offset, the
   * topic's end then. Once every one is consumed that far, the rest is flushed at once (trigger
   * `caught_up`) instead of at the next interval.
   */
  #backlogEnds = new Map<number, number>();
  #timer: NodeJS.Timeout | undefined;
  #paused = false;
  #crashed: Error | undefined;

  constructor(options: AggregatorOptions) {
    this.#o = options;
    this.#consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatMs,
      maxBytesPerPartition: options.maxBytesPerPartition,
      maxBytes: options.fetchMaxBytes,
      minBytes: options.fetchMinBytes,
      maxWaitTimeInMs: options.fetchMaxWaitMs,
      allowAutoTopicCreation: false,
    });
    this.#producer = options.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
  }

  /** Not ready after a crash kafkajs will not restart from. */
  health(): void {
    if (this.#crashed) throw new Error(`consumer crashed: ${this.#crashed.message}`);
  }

  async start(): Promise<void> {
    const { topic, metrics, log } = this.#o;
    const events = this.#consumer.events;
    // kafkajs is about to rejoin: the partitions may move, so hand over what is consumed now.
    this.#consumer.on(events.REBALANCING, () => {
      void this.#mutex.run(() => this.#flushNow('rebalance'));
    });
    this.#consumer.on(events.GROUP_JOIN, (event) => {
      const assigned = event.payload.memberAssignment[topic] ?? [];
      void this.#mutex.run(async () => {
        // Anything consumed since REBALANCING is flushed (fenced if the partition moved), then all
        // state is dropped: each partition reloads from Postgres on its first batch.
        await this.#flushNow('rebalance');
        this.#states.clear();
        this.#startAt.clear();
        this.#traces.clear();
        metrics.consumedOffset.reset();
        metrics.committedOffset.reset();
        metrics.lag.reset();
        metrics.watermark.reset();
        metrics.assigned.set(assigned.length);
        metrics.rebalances.inc();
        log.info({ partitions: assigned, memberId: event.payload.memberId }, 'joined the consumer group');
        this.#backlogEnds = await this.#backlogAt(assigned).catch((err: unknown) => {
          log.warn({ err }, 'could not read the backlog at assignment (the interval flushes its tail)');
          return new Map<number, number>();
        });
      });
    });
    this.#consumer.on(events.CRASH, (event) => {
      if (!event.payload.restart) this.#crashed = event.payload.error;
      log.error({ err: event.payload.error, restart: event.payload.restart }, 'consumer crashed');
    });

    await this.#producer.connect();
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topic, fromBeginning: true });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.#mutex.run(() => this.#eachBatch(payload)),
    });
    // The join's handler (queued on the mutex while run() joined) has read the backlog: a backlog
    // is what was on the topic before this worker said it was ready.
    await this.#mutex.run(async () => undefined);
    // The interval starts a flush and returns: consumption goes on while it commits.
    this.#timer = setInterval(() => {
      void this.#mutex.run(async () => {
        if (this.#flights.size < this.#o.flushConcurrency) this.#begin('interval');
      });
    }, this.#o.flushIntervalMs);
  }

  async #eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { metrics, latenessMs } = this.#o;
    const partition = batch.partition;
    this.#highWatermarks.set(partition, Number(batch.highWatermark));
    let state = this.#states.get(partition);
    if (!state) {
      const stored = await this.#o.store.load(partition);
      const start = stored?.nextOffset ?? (await this.#earliest(partition));
      state = new PartitionWindows(partition, stored, latenessMs);
      this.#states.set(partition, state);
      this.#startAt.set(partition, start);
      this.#observe(state);
      const first = batch.firstOffset();
      if (first === null || Number(first) !== start) {
        this.#consumer.seek({ topic: batch.topic, partition, offset: String(start) });
        return;
      }
    }
    // kafkajs' isRunning/isStale and resolveOffset cost a map lookup and Long parsing each; per
    // message they were ~10 % of the worker's CPU in a drain profile. Nothing changes them while
    // this loop runs synchronously, so they are checked at the start and after every await, and
    // the last consumed offset is resolved once, before returning.
    const live = () => isRunning() && !isStale() && this.#states.get(partition) === state;
    const counts = { on_time: 0, late_counted: 0, dead_letter: 0, malformed: 0 };
    let resolved: string | undefined;
    let room = this.#o.flushMaxEvents - this.#unflushed();
    if (live()) {
      for (const message of batch.messages) {
        const offset = Number(message.offset);
        if (offset < (state.nextOffset ?? this.#startAt.get(partition)!)) continue;
        this.#consume(state, offset, message, counts);
        resolved = message.offset;
        if (--room > 0) continue;
        // Size trigger: start a flush of partitions no running flush holds, waiting for one to end
        // when all are taken (backpressure: at most flushConcurrency windows commit while the next
        // is consumed, never more), and keep consuming.
        resolveOffset(resolved);
        await this.#sizeFlush(live);
        if (!live()) break;
        await heartbeat();
        if (!live()) break;
        room = this.#o.flushMaxEvents - this.#unflushed();
      }
    }
    if (resolved !== undefined) resolveOffset(resolved);
    for (const [disposition, n] of Object.entries(counts))
      if (n > 0) metrics.consumed.inc({ disposition }, n);
    metrics.pending.set(this.#pending());
    this.#observe(state);
    if (this.#backlogEnds.size > 0 && this.#backlogConsumed()) {
      // The backlog found at assignment (a restart, an outage, a rebalance) is read: its tail, less
      // than a size flush, would otherwise wait up to FLUSH_INTERVAL_MS to be counted. Once per
      // assignment; a live stream keeps the interval and size triggers.
      this.#backlogEnds.clear();
      await this.#settled();
      this.#begin('caught_up');
    }
  }

  /** Per assigned partition with messages beyond its stored offset: the topic's end now. */
  async #backlogAt(partitions: number[]): Promise<Map<number, number>> {
    const ends = new Map<number, number>();
    if (partitions.length === 0) return ends;
    const offsets = await this.#o.admin.fetchTopicOffsets(this.#o.topic);
    await Promise.all(
      partitions.map(async (partition) => {
        const topic = offsets.find((o) => o.partition === partition);
        if (!topic) return;
        const from = (await this.#o.store.load(partition))?.nextOffset ?? Number(topic.low);
        if (Number(topic.high) > from) ends.set(partition, Number(topic.high));
      }),
    );
    return ends;
  }

  /** Every partition of the backlog found at assignment is consumed up to its end then. */
  #backlogConsumed(): boolean {
    for (const [partition, end] of this.#backlogEnds) {
      const next = this.#states.get(partition)?.nextOffset;
      if (next === null || next === undefined || next < end) return false;
    }
    return true;
  }

  #consume(
    state: PartitionWindows,
    offset: number,
    message: KafkaMessage,
    counts: Record<Disposition | 'malformed', number>,
  ): void {
    const click = decodeClick(message.value);
    if (!click) {
      state.addMalformed(offset, message.key, message.value);
      counts.malformed++;
      return;
    }
    const { disposition, lagMs } = state.add(offset, click);
    counts[disposition]++;
    this.#o.metrics.lateness.observe(lagMs / 1000);
    const carrier = carrierOf(message.headers);
    if (carrier) {
      const traces = this.#traces.get(state.partition);
      if (!traces) this.#traces.set(state.partition, [carrier]);
      else if (traces.length <= MAX_LINKS) traces.push(carrier);
    }
  }

  #pending(): number {
    let n = 0;
    for (const s of this.#states.values()) n += s.pending;
    return n;
  }

  /** Consumed messages no flush has taken yet. */
  #unflushed(): number {
    let n = this.#pending();
    for (const f of this.#flights) n -= f.messages;
    return n;
  }

  /** Resolves once no flush is running (a flush that fails resolves too: its state is kept). */
  async #settled(): Promise<void> {
    while (this.#flights.size > 0) await Promise.all([...this.#flights].map((f) => f.done));
  }

  /**
   * While FLUSH_MAX_EVENTS or more consumed messages wait for a flush: start one for the free
   * partitions with the most pending (a share of the partitions, so that flushes can overlap),
   * or wait for a running flush to end when every slot or every pending partition is taken.
   */
  async #sizeFlush(live: () => boolean): Promise<void> {
    const { flushMaxEvents, flushConcurrency } = this.#o;
    while (this.#unflushed() >= flushMaxEvents && live()) {
      const share = Math.ceil(this.#states.size / flushConcurrency);
      if (this.#flights.size < flushConcurrency && this.#begin('size', share)) return;
      if (this.#flights.size === 0) return;
      await Promise.race([...this.#flights].map((f) => f.done));
    }
  }

  /** Waits for the flush in flight, then flushes everything consumed so far and waits for it. */
  async #flushNow(trigger: FlushTrigger): Promise<void> {
    await this.#settled();
    this.#begin(trigger);
    await this.#settled();
  }

  /**
   * Starts a flush of what is consumed so far on up to `most` partitions no running flush holds
   * (those with the most pending first), without waiting for it; false when there is none. The
   * snapshot is taken now, synchronously, so what consumption adds from here on stays for the
   * next flush.
   */
  #begin(trigger: FlushTrigger, most = Number.POSITIVE_INFINITY): boolean {
    const held = new Set<number>();
    for (const f of this.#flights) for (const p of f.partitions) held.add(p);
    const free = [...this.#states.values()].filter(
      (s) => !held.has(s.partition) && (s.dirty || s.pending > 0),
    );
    if (free.length === 0) return false;
    const taken = free.sort((a, b) => b.pending - a.pending).slice(0, most);
    const flight: Flight = {
      partitions: new Set(taken.map((s) => s.partition)),
      messages: 0,
      done: Promise.resolve(),
    };
    this.#flights.add(flight);
    flight.done = this.#flush(trigger, flight, taken).finally(() => {
      this.#flights.delete(flight);
    });
    return true;
  }

  async #earliest(partition: number): Promise<number> {
    const offsets = await this.#o.admin.fetchTopicOffsets(this.#o.topic);
    const low = offsets.find((o) => o.partition === partition)?.low;
    return low === undefined ? 0 : Number(low);
  }

  /**
   * One flush of the flight's partitions (and its retries after a fence). Must take its snapshot
   * before its first await.
   */
  async #flush(trigger: FlushTrigger, flight: Flight, taken: PartitionWindows[]): Promise<void> {
    const { metrics, log } = this.#o;
    const parts = taken.map((s) => s.snapshot());
    if (parts.length === 0) return;
    flight.messages = parts.reduce((n, p) => n + p.messages, 0);
    const traces = this.#takeTraces(parts);
    const started = performance.now();
    let result: FlushResult;
    try {
      result = await this.#write(parts, [...traces.values()].flat());
    } catch (error) {
      if (error instanceof FencedError) {
        // Another consumer committed these partitions after this state was loaded: this state is
        // stale. Drop it (the next batch reloads and seeks) and flush the others again.
        for (const p of error.partitions) {
          this.#states.delete(p);
          flight.partitions.delete(p);
        }
        flight.messages = 0;
        this.#returnTraces(traces);
        metrics.flushes.inc({ trigger, result: 'fenced' });
        log.warn(
          { partitions: error.partitions, trigger },
          'flush fenced: partitions moved to another consumer',
        );
        const rest = taken.filter((s) => this.#states.get(s.partition) === s);
        return this.#flush(trigger, flight, rest);
      }
      flight.messages = 0; // not taken any more: the next flush takes them again
      this.#returnTraces(traces);
      metrics.flushes.inc({ trigger, result: 'failed' });
      log.error(
        { err: error, trigger, partitions: parts.map((p) => p.partition) },
        'flush failed; state kept',
      );
      if (!this.#paused && this.#pending() >= (this.#o.flushConcurrency + 1) * this.#o.flushMaxEvents) {
        // Backpressure: stop fetching until a flush succeeds instead of buffering without bound.
        this.#consumer.pause([{ topic: this.#o.topic }]);
        this.#paused = true;
        log.warn({ pending: this.#pending() }, 'consumption paused until a flush succeeds');
      }
      return;
    }
    // In the same synchronous step as the states drop what committed, so that #unflushed() is
    // never read between the two (a batch starting there subtracted the committed flush twice).
    flight.messages = 0;
    parts.forEach((part, i) => {
      // The state the snapshot came from, unless a rebalance replaced it meanwhile.
      const state = taken[i]!;
      if (this.#states.get(part.partition) !== state) return;
      state.committed(part);
      this.#observe(state);
    });
    metrics.flushes.inc({ trigger, result: 'committed' });
    metrics.flushDuration.observe((performance.now() - started) / 1000);
    metrics.counted.inc(result.counted);
    metrics.rawDuplicates.inc(result.duplicates);
    metrics.pending.set(this.#pending());
    for (const p of parts) {
      for (const d of p.deadLetters) metrics.deadLettered.inc({ reason: d.reason });
    }
    if (this.#paused) {
      this.#consumer.resume([{ topic: this.#o.topic }]);
      this.#paused = false;
    }
    // Neither holds the partitions: top-K totals are absolute (ZADD GT keeps the larger), and the
    // offsets in Kafka are only for lag tools.
    const after = Promise.all([
      this.#o.topK
        .update(result.totals)
        .catch((err: unknown) => log.warn({ err }, 'top-K update failed (Postgres has the counts)')),
      this.#consumer
        .commitOffsets(
          parts.map((p) => ({ topic: this.#o.topic, partition: p.partition, offset: String(p.nextOffset) })),
        )
        .catch(() => undefined),
    ]).then(() => {
      this.#afterCommit.delete(after);
    });
    this.#afterCommit.add(after);
  }

  /** The trace contexts of these partitions' clicks, taken by one flush. */
  #takeTraces(parts: PartitionFlush[]): Map<number, Record<string, string>[]> {
    const taken = new Map<number, Record<string, string>[]>();
    for (const { partition } of parts) {
      const traces = this.#traces.get(partition);
      if (!traces) continue;
      this.#traces.delete(partition);
      taken.set(partition, traces);
    }
    return taken;
  }

  /** A flush that did not commit gives its trace contexts back (bounded as when consumed). */
  #returnTraces(taken: Map<number, Record<string, string>[]>): void {
    for (const [partition, traces] of taken) {
      if (!this.#states.has(partition)) continue;
      const kept = this.#traces.get(partition) ?? [];
      this.#traces.set(partition, [...traces, ...kept].slice(0, MAX_LINKS + 1));
    }
  }

  /**
   * Dead letters first (at least once: before the offsets that pass them are stored), then the
   * raw partitions, then the one transaction. The flush continues the trace of the first click it
   * carries and links the others, so a click's trace reaches Postgres.
   */
  async #write(parts: PartitionFlush[], traces: Record<string, string>[]): Promise<FlushResult> {
    const links: Link[] = [];
    for (const carrier of traces.slice(1, MAX_LINKS + 1)) {
      const span = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, carrier));
      if (span) links.push({ context: span });
    }
    const clicks = parts.flatMap((p) => p.clicks);
    const deadLetters = parts.flatMap((p) => p.deadLetters);
    return withTraceContext(traces[0], () =>
      tracer.startActiveSpan(
        'aggregator flush',
        {
          kind: SpanKind.INTERNAL,
          links,
          attributes: {
            [Attr.batchSize]: clicks.length,
            [Attr.partitions]: parts.map((p) => p.partition).join(','),
            [Attr.deadLettered]: deadLetters.length,
          },
        },
        async (span) => {
          try {
            if (deadLetters.length > 0) {
              await this.#producer.send({
                topic: this.#o.deadLetterTopic,
                acks: -1,
                messages: deadLetters.map(deadLetterMessage),
              });
            }
            await this.#o.store.ensureDays(clicks);
            const result = await this.#o.store.flush(parts);
            span.setAttribute(Attr.inserted, result.counted + result.storedLate);
            return result;
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

  #observe(state: PartitionWindows): void {
    const { metrics } = this.#o;
    const labels = { partition: String(state.partition) };
    if (state.nextOffset !== null) metrics.consumedOffset.set(labels, state.nextOffset);
    const committed = state.committedOffset;
    if (committed !== null) metrics.committedOffset.set(labels, committed);
    const high = this.#highWatermarks.get(state.partition);
    if (high !== undefined) metrics.lag.set(labels, Math.max(0, high - (committed ?? 0)));
    if (state.watermark !== null) metrics.watermark.set(labels, state.watermark / 1000);
  }

  /** Flushes while still a member (fetching paused), then leaves the group. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    try {
      this.#consumer.pause([{ topic: this.#o.topic }]);
    } catch {
      // not running
    }
    await this.#mutex.run(() => this.#flushNow('shutdown'));
    await Promise.all([...this.#afterCommit]);
    await this.#consumer.disconnect();
    await this.#producer.disconnect();
  }
}

function carrierOf(headers: IHeaders | undefined): Record<string, string> | undefined {
  const value = headers?.traceparent;
  if (value === undefined) return undefined;
  const carrier: Record<string, string> = { traceparent: String(Array.isArray(value) ? value[0] : value) };
  const state = headers?.tracestate;
  if (state !== undefined) carrier.tracestate = String(Array.isArray(state) ? state[0] : state);
  return carrier;
}

function deadLetterMessage(d: DeadLetter) {
  return {
    key: d.key,
    value: d.value,
    headers: {
      'x-dead-letter-reason': d.reason,
      'x-source-partition': String(d.partition),
      'x-source-offset': String(d.offset),
      ...(d.lagMs !== undefined ? { 'x-lateness-ms': String(d.lagMs) } : {}),
    },
  };
}
