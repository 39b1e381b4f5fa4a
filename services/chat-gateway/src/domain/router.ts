import { SpanKind } from '@opentelemetry/api';
import { traceContextCarrier, withTraceContext } from '@sdlab/service-kit';
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
   */
  async route(
    userIds: readonly string[],
    frame: string,
    options: Omit<DeliverOptions, 'path'>,
  ): Promise<{ online: number; instances: number }> {
    const located = await this.#registry.locate(userIds);
    const byInstance = new Map<string, string[]>();
    for (const [userId, entries] of located) {
      for (const instanceId of new Set(entries.map((e) => e.instanceId))) {
        const users = byInstance.get(instanceId);
        if (users) users.push(userId);
        else byInstance.set(instanceId, [userId]);
      }
    }
    const remote = [...byInstance].filter(([instanceId]) => instanceId !== this.#instanceId);
    if (remote.length) {
      const carrier = traceContextCarrier();
      const pipeline = this.#redis.pipeline();
      for (const [instanceId, users] of remote) {
        const header: Header = { k: options.kind, u: users };
        if (options.exceptConnectionId) header.x = options.exceptConnectionId;
        if (options.storedAtMs) header.t = options.storedAtMs;
        if (carrier.traceparent) header.tc = carrier;
        pipeline.publish(this.#keys.instanceChannel(instanceId), `${JSON.stringify(header)}\n${frame}`);
      }
      const replies = (await pipeline.exec()) ?? [];
      for (const [error, receivers] of replies) {
        if (error) throw error;
        // Nobody listening: the registry still names an instance that died (its entries expire).
        this.#metrics.published.inc({ result: receivers === 0 ? 'miss' : 'delivered' });
      }
    }
    const mine = byInstance.get(this.#instanceId);
    if (mine) this.#local?.deliver(mine, frame, { ...options, path: 'local' });
    return { online: located.size, instances: byInstance.size };
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

  #receive(channel: string, payload: string): void {
    if (channel !== this.channel || !this.#local) return;
    const newline = payload.indexOf('\n');
    let header: Header;
    try {
      header = JSON.parse(payload.slice(0, newline)) as Header;
    } catch (err) {
      this.#log.warn({ err, channel }, 'unreadable pub/sub payload dropped');
      return;
    }
    if (header.k === 'kick') {
      if (header.c) this.#local.kick(header.c);
      return;
    }
    const frame = payload.slice(newline + 1);
    const local = this.#local;
    withTraceContext(header.tc, () =>
      tracer.startActiveSpan(Span.deliver, { kind: SpanKind.CONSUMER }, (span) => {
        const sockets = local.deliver(header.u ?? [], frame, {
          kind: header.k as DeliveryKind,
          path: 'pubsub',
          exceptConnectionId: header.x,
          storedAtMs: header.t,
        });
        span.setAttributes({
          [Attr.instance]: this.#instanceId,
          [Attr.recipients]: header.u?.length ?? 0,
          [Attr.sockets]: sockets,
        });
        span.end();
      }),
    );
  }
}
