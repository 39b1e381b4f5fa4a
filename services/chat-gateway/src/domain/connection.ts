import type { WebSocket } from 'ws';
import type { ServerFrame } from '../schemas/frames.ts';
import type { DisconnectReason } from '../telemetry.ts';
import type { ConnectionContext } from './chat-service.ts';
import { encode } from './protocol.ts';
import { SendQueue } from './send-queue.ts';
import type { SessionRef } from './session-registry.ts';
import type { Identity } from './tokens.ts';

/** One inbound WebSocket frame, as `ws` gave it. */
export interface Inbound {
  data: Buffer;
  isBinary: boolean;
}

export interface ConnectionLimits {
  sendHighWaterBytes: number;
  sendQueueMax: number;
  sendQueueMaxBytes: number;
  inboundQueueMax: number;
  closeGraceMs: number;
}

/**
 * One accepted WebSocket: who it is, its bounded send queue, and its inbound frames handled one
 * at a time, in order. Handling in order means acks come back in the order the sends were made
 * and one connection occupies at most one database connection, however fast it floods; when
 * too many frames wait, the socket is paused and TCP pushes back on the client.
 */
export class Connection implements ConnectionContext {
  readonly id: string;
  readonly userId: string;
  readonly deviceId: string;
  readonly expiresAtMs: number;
  readonly ws: WebSocket;
  readonly sendQueue: SendQueue;
  /**
   * Answered the last ping with a pong. Only pongs count: a client that keeps sending frames but
   * never reads would otherwise stay "alive" while its unread replies pile up.
   */
  alive = true;
  /** Its registry entry was written. */
  claimed = false;
  /** It got its hello frame: deliveries may start. */
  ready = false;
  closeReason: DisconnectReason | undefined;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  readonly #resolveClosed: () => void;
  readonly #limits: ConnectionLimits;
  #closing = false;
  #pending = 0;
  #paused = false;
  #chain: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];
  /** Frames received and not yet taken by a handler; `#drainQueued`: a task that takes them is queued. */
  #inbox: Inbound[] = [];
  #drainQueued = false;

  /**
   * `socket`: the TCP socket under `ws`, corked while a turn's frames are written to it, so
   * they leave in one write (see SendQueue).
   */
  constructor(
    id: string,
    ws: WebSocket,
    socket: { cork(): void; uncork(): void },
    identity: Identity,
    limits: ConnectionLimits,
    onOverflow: () => void,
  ) {
    this.id = id;
    this.userId = identity.userId;
    this.deviceId = identity.deviceId;
    this.expiresAtMs = identity.expiresAtMs;
    this.ws = ws;
    this.#limits = limits;
    this.sendQueue = new SendQueue(ws, {
      corkable: socket,
      highWaterBytes: limits.sendHighWaterBytes,
      maxQueued: limits.sendQueueMax,
      maxQueuedBytes: limits.sendQueueMaxBytes,
      onOverflow,
    });
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    this.#resolveClosed = resolve;
  }

  get ref(): SessionRef {
    return { userId: this.userId, deviceId: this.deviceId, connectionId: this.id };
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Settles once every frame queued so far has been handled. */
  get idle(): Promise<void> {
    return this.#chain;
  }

  send(frame: ServerFrame): void {
    this.sendQueue.send(encode(frame));
  }

  sendText(text: string): boolean {
    return this.sendQueue.send(text);
  }

  /** Queues work behind the frames already waiting; skipped once the socket is closing. */
  enqueue(task: () => Promise<void> | void, onError: (err: unknown) => void): void {
    this.#admit(1);
    this.#chain = this.#chain
      .then(() => (this.#closing ? undefined : task()))
      .catch(onError)
      .finally(() => this.#done(1));
  }

  /**
   * Queues an inbound frame. The frames that wait while earlier ones are handled are taken
   * together, in order, by one call of `handle` (a client with several sends in flight gets them
   * stored in one commit and acked in one write); still one call at a time per connection.
   */
  receive(
    frame: Inbound,
    handle: (frames: Inbound[]) => Promise<void>,
    onError: (err: unknown) => void,
  ): void {
    this.#admit(1);
    this.#inbox.push(frame);
    if (this.#drainQueued) return;
    this.#drainQueued = true;
    let taken = 0;
    this.#chain = this.#chain
      .then(() => {
        this.#drainQueued = false;
        const frames = this.#inbox;
        this.#inbox = [];
        taken = frames.length;
        return this.#closing ? undefined : handle(frames);
      })
      .catch(onError)
      .finally(() => this.#done(taken));
  }

  #admit(frames: number): void {
    this.#pending += frames;
    if (this.#pending >= this.#limits.inboundQueueMax && !this.#paused) {
      this.#paused = true;
      this.ws.pause();
    }
  }

  #done(frames: number): void {
    this.#pending -= frames;
    if (this.#paused && this.#pending <= this.#limits.inboundQueueMax / 2) {
      this.#paused = false;
      this.ws.resume();
    }
  }

  /** Closes with a code the client acts on; cut after the grace period if the client does not answer. */
  close(code: number, reason: string, why: DisconnectReason, graceMs = this.#limits.closeGraceMs): void {
    if (this.#closing) return;
    this.#closing = true;
    this.closeReason = why;
    this.sendQueue.close();
    this.ws.close(code, reason);
    this.#timers.push(setTimeout(() => this.ws.terminate(), graceMs).unref());
  }

  /** Drops the socket without a closing handshake (the peer is gone or unresponsive). */
  terminate(why: DisconnectReason): void {
    if (!this.#closing) this.closeReason = why;
    this.#closing = true;
    this.sendQueue.close();
    this.ws.terminate();
  }

  after(ms: number, fn: () => void): void {
    // setTimeout holds at most ~24.8 days; longer waits (never configured today) fire early.
    this.#timers.push(setTimeout(fn, Math.min(Math.max(0, ms), 2 ** 31 - 1)).unref());
  }

  /** The socket closed: stop timers, mark it closed. */
  dispose(): void {
    this.#closing = true;
    this.sendQueue.close();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers = [];
    this.#resolveClosed();
  }
}
