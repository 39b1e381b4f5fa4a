import { SpanKind } from '@opentelemetry/api';
import { execPipeline, startSpanIfSampled, traceContextCarrier, withTraceContext } from '@sdlab/service-kit';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.ts';
import { Attr, type ChatMetrics, Span, tracer } from '../telemetry.ts';
import type { SessionEntry, SessionRegistry } from './session-registry.ts';

export type DeliveryKind = 'message' | 'receipt' | 'typing' | 'conversation';

export interface DeliverOptions {
  kind: DeliveryKind;
  path: 'local' | 'pubsub';
  /** The sender's own socket: it got an ack, not a copy. */
  exceptConnectionId?: string | undefined;
  /** When the message was stored (ms since epoch), for the delivery-lag histogram. */
  storedAtMs?: number | undefined;
}

/** The sockets of this instance, as the router sees them (implemented by the Gateway). */
export interface LocalSockets {
  /** Writes `frame` to every local socket of these users; returns how many sockets got it. */
  deliver(userIds: readonly string[], frame: string, options: DeliverOptions): number;
  /** Closes a local socket whose device connected again elsewhere (4009). */
  kick(connectionId: string): void;
}

/** What travels on an instance channel, before the newline; the frame text follows unparsed. */
interface Header {
  k: DeliveryKind | 'kick';
  /** recipients on the target instance */
  u?: string[];
  /** socket to skip */
  x?: string;
  /** stored at, ms */
  t?: number;
  /** connection to kick */
  c?: string;
  /** trace context (W3C traceparent), so chat.deliver on the far side joins the sender's trace */
  tc?: Record<string, string>;
}

interface PendingRoute {
  userIds: readonly string[];
  frame: string;
  options: Omit<DeliverOptions, 'path'>;
  carrier: Record<string, string>;
  resolve(result: { online: number; instances: number }): void;
  reject(error: unknown): void;
}

/**
 * Routing across gateway instances with Redis pub/sub and the connection registry [004:1199]:
 * look up the recipients' instances in the registry, then publish one payload per instance on
 * that instance's own channel; each instance subscribes only to its own channel, so a message
 * costs one PUBLISH per instance that has a recipient, not a broadcast to every instance.
 * Recipients on this instance are written directly, without a Redis round trip.
 *
 * Pub/sub is fire-and-forget [003:1440]: a payload for an instance that just died, or published
 * while a subscriber reconnects, is lost. That is acceptable because it is only the fast path:
 * every message is in Postgres with its seq, and a client that sees a gap, or reconnects, syncs.
 */
export class Router {
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #keys: Keys;
  readonly #instanceId: string;
  readonly #registry: SessionRegistry;
  readonly #metrics: ChatMetrics;
  readonly #log: FastifyBaseLogger;
  #local: LocalSockets | undefined;
  readonly #onMessage = (channel: string, payload: string) => this.#receive(channel, payload);
  #pending: PendingRoute[] = [];
  #flushScheduled = false;

  constructor(options: {
    redis: Redis;
    subscriber: Redis;
    keys: Keys;
    instanceId: string;
    registry: SessionRegistry;
    metrics: ChatMetrics;
    log: FastifyBaseLogger;
  }) {
    this.#redis = options.redis;
    this.#subscriber = options.subscriber;
    this.#keys = options.keys;
    this.#instanceId = options.instanceId;
    this.#registry = options.registry;
    this.#metrics = options.metrics;
    this.#log = options.log;
  }

  get channel(): string {
    return this.#keys.instanceChannel(this.#instanceId);
  }

  async start(local: LocalSockets): Promise<void> {
    this.#local = local;
    this.#subscriber.on('message', this.#onMessage);
    await this.#subscriber.subscribe(this.channel);
  }

  async stop(): Promise<void> {
    this.#subscriber.off('message', this.#onMessage);
    if (this.#subscriber.status === 'ready') await this.#subscriber.unsubscribe(this.channel);
  }

  /**
   * Delivers `frame` to every live device of `userIds`, wherever it is connected. Returns how
   * many users were online and on how many instances.
   *
   * Routes asked for in the same event-loop turn (the sends of one group commit are acked and
   * routed together) share one registry pipeline and one PUBLISH per target instance: a batch
   * of N messages costs two Redis round trips, not 2N, and two socket writes instead of 2N.
   */
  route(
    userIds: readonly string[],
    frame: string,
    options: Omit<DeliverOptions, 'path'>,
  ): Promise<{ online: number; instances: number }> {
    const { promise, resolve, reject } = Promise.withResolvers<{ online: number; instances: number }>();
    // Captured now: the flush runs outside this caller's span.
    const carrier = traceContextCarrier();
    this.#pending.push({ userIds, frame, options, carrier, resolve, reject });
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => void this.#flush());
    }
    return promise;
  }

  async #flush(): Promise<void> {
    this.#flushScheduled = false;
    const routes = this.#pending;
    this.#pending = [];
    try {
      const located = await this.#registry.locate([...new Set(routes.flatMap((r) => r.userIds))]);
      // Per target instance, the records (header line, frame line) of every route that reaches it.
      const remote = new Map<string, string[]>();
      const answers = routes.map((route) => {
        const byInstance = new Map<string, string[]>();
        let online = 0;
        for (const userId of route.userIds) {
          const entries = located.get(userId);
          if (!entries) continue;
          online++;
          for (const instanceId of new Set(entries.map((e) => e.instanceId))) {
            const users = byInstance.get(instanceId);
            if (users) users.push(userId);
            else byInstance.set(instanceId, [userId]);
          }
        }
        for (const [instanceId, users] of byInstance) {
          if (instanceId === this.#instanceId) continue;
          const header: Header = { k: route.options.kind, u: users };
          if (route.options.exceptConnectionId) header.x = route.options.exceptConnectionId;
          if (route.options.storedAtMs) header.t = route.options.storedAtMs;
          if (route.carrier.traceparent) header.tc = route.carrier;
          const records = remote.get(instanceId);
          const record = `${JSON.stringify(header)}\n${route.frame}`;
          if (records) records.push(record);
          else remote.set(instanceId, [record]);
        }
        return {
          route,
          mine: byInstance.get(this.#instanceId),
          result: { online, instances: byInstance.size },
        };
      });
      if (remote.size) {
        const replies = await execPipeline('publish', () => {
          const pipeline = this.#redis.pipeline();
          for (const [instanceId, records] of remote)
            pipeline.publish(this.#keys.instanceChannel(instanceId), records.join('\n'));
          return pipeline;
        });
        for (const [error, receivers] of replies) {
          if (error) throw error;
          // Nobody listening: the registry still names an instance that died (its entries expire).
          this.#metrics.published.inc({ result: receivers === 0 ? 'miss' : 'delivered' });
        }
      }
      for (const { route, mine, result } of answers) {
        if (mine) this.#local?.deliver(mine, route.frame, { ...route.options, path: 'local' });
        route.resolve(result);
      }
    } catch (error) {
      for (const route of routes) route.reject(error);
    }
  }

  /** Closes a connection that a newer one of the same device replaces, on whichever instance holds it. */
  async kick(entry: SessionEntry): Promise<void> {
    if (entry.instanceId === this.#instanceId) {
      this.#local?.kick(entry.connectionId);
      return;
    }
    const header: Header = { k: 'kick', c: entry.connectionId };
    await this.#redis.publish(this.#keys.instanceChannel(entry.instanceId), `${JSON.stringify(header)}\n`);
  }

  /** A payload is one or more records, each a header line and a frame line (JSON has no raw newline). */
  #receive(channel: string, payload: string): void {
    if (channel !== this.channel || !this.#local) return;
    let at = 0;
    while (at < payload.length) {
      const newline = payload.indexOf('\n', at);
      if (newline < 0) break;
      let end = payload.indexOf('\n', newline + 1);
      if (end < 0) end = payload.length;
      this.#record(channel, payload.slice(at, newline), payload.slice(newline + 1, end));
      at = end + 1;
    }
  }

  #record(channel: string, headerText: string, frame: string): void {
    const local = this.#local!;
    let header: Header;
    try {
      header = JSON.parse(headerText) as Header;
    } catch (err) {
      this.#log.warn({ err, channel }, 'unreadable pub/sub payload dropped');
      return;
    }
    if (header.k === 'kick') {
      if (header.c) local.kick(header.c);
      return;
    }
    const deliver = () =>
      local.deliver(header.u ?? [], frame, {
        kind: header.k as DeliveryKind,
        path: 'pubsub',
        exceptConnectionId: header.x,
        storedAtMs: header.t,
      });
    // Only the delivery of a sampled send is traced: a payload without trace context (an
    // unsampled send, a typing frame) is not a new trace's root, which would spend the sampler's
    // tokens on orphan deliveries.
    const span = header.tc
      ? withTraceContext(header.tc, () =>
          startSpanIfSampled(tracer, Span.deliver, { kind: SpanKind.CONSUMER }),
        )
      : undefined;
    if (!span) {
      deliver();
      return;
    }
    const sockets = deliver();
    span.setAttributes({
      [Attr.instance]: this.#instanceId,
      [Attr.recipients]: header.u?.length ?? 0,
      [Attr.sockets]: sockets,
    });
    span.end();
  }
}
