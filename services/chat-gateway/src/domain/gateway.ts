import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Config } from '../config.ts';
import { CloseCodes, PROTOCOL_VERSION, type SendFrame } from '../schemas/frames.ts';
import { Attr, type ChatMetrics, type DisconnectReason, Span, tracer } from '../telemetry.ts';
import type { ChatService } from './chat-service.ts';
import { Connection, type Inbound } from './connection.ts';
import { errorFrame, type FrameParser, type Parsed } from './protocol.ts';
import type { DeliverOptions, LocalSockets, Router } from './router.ts';
import type { SessionRegistry } from './session-registry.ts';
import { bearerToken, type Identity, type TokenService } from './tokens.ts';

export const WS_PATH = '/ws';

export interface SocketStats {
  sockets: number;
  queuedFrames: number;
  maxQueuedFrames: number;
  bufferedBytes: number;
}

export interface GatewayOptions {
  config: Config;
  instanceId: string;
  tokens: TokenService;
  registry: SessionRegistry;
  router: Router;
  chat: ChatService;
  parser: FrameParser;
  metrics: ChatMetrics;
  log: FastifyBaseLogger;
}

/**
 * The WebSocket side of the gateway: authenticates upgrades, keeps this instance's sockets
 * (by connection and by user), registers them in the registry, pings them and refreshes their
 * entries every heartbeat, writes routed frames to them, and drains them on shutdown.
 */
export class Gateway implements LocalSockets {
  readonly #options: GatewayOptions;
  readonly #config: Config;
  readonly #log: FastifyBaseLogger;
  readonly #metrics: ChatMetrics;
  readonly #wss: WebSocketServer;
  readonly #byId = new Map<string, Connection>();
  readonly #byUser = new Map<string, Set<Connection>>();
  readonly #releases = new Set<Promise<unknown>>();
  #heartbeat: NodeJS.Timeout | undefined;
  #beating = false;
  #draining = false;
  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    void this.#upgrade(request, socket, head);
  };

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#wss = new WebSocketServer({
      noServer: true,
      // Past MAX_FRAME_BYTES a frame gets an error frame; past this hard limit ws closes with 1009
      // before buffering more of it.
      maxPayload: this.#config.FRAME_HARD_LIMIT_BYTES,
      // Compression costs a zlib context per socket (tens of KB): too much at 20K sockets per instance.
      perMessageDeflate: false,
      clientTracking: false,
    });
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Takes over the HTTP server's upgrade requests and starts the heartbeat. */
  start(server: Server): void {
    server.on('upgrade', this.#onUpgrade);
    this.#heartbeat = setInterval(() => void this.#beat(), this.#config.HEARTBEAT_INTERVAL_MS).unref();
  }

  stats(): SocketStats {
    let queuedFrames = 0;
    let maxQueuedFrames = 0;
    let bufferedBytes = 0;
    for (const conn of this.#byId.values()) {
      const depth = conn.sendQueue.depth;
      queuedFrames += depth;
      if (depth > maxQueuedFrames) maxQueuedFrames = depth;
      bufferedBytes += conn.ws.bufferedAmount;
    }
    return { sockets: this.#byId.size, queuedFrames, maxQueuedFrames, bufferedBytes };
  }

  /** Connections of a user on this instance (tests and diagnostics). */
  connectionsOf(userId: string): Connection[] {
    return [...(this.#byUser.get(userId) ?? [])];
  }

  deliver(userIds: readonly string[], frame: string, options: DeliverOptions): number {
    let sockets = 0;
    for (const userId of userIds) {
      const conns = this.#byUser.get(userId);
      if (!conns) continue;
      for (const conn of conns) {
        if (!conn.ready || conn.id === options.exceptConnectionId) continue;
        if (conn.sendText(frame)) sockets++;
      }
    }
    if (sockets) {
      this.#metrics.deliveries.inc({ kind: options.kind, path: options.path }, sockets);
      if (options.storedAtMs)
        this.#metrics.deliveryLag.observe(Math.max(0, Date.now() - options.storedAtMs) / 1000);
    }
    return sockets;
  }

  kick(connectionId: string): void {
    this.#byId
      .get(connectionId)
      ?.close(CloseCodes.REPLACED, 'replaced by a newer connection of this device', 'replaced');
  }

  /**
   * Graceful drain: every client gets 1012 (service restart) and reconnects, through the load
   * balancer, to another instance; after DRAIN_TIMEOUT_MS the rest are cut. Registry entries are
   * released before Redis is closed, so routing stops pointing here at once, not after the TTL.
   */
  async drain(): Promise<void> {
    this.#draining = true;
    clearInterval(this.#heartbeat);
    const open = [...this.#byId.values()];
    for (const conn of open) {
      conn.close(
        CloseCodes.SERVICE_RESTART,
        'server restarting: reconnect',
        'draining',
        this.#config.DRAIN_TIMEOUT_MS,
      );
    }
    await Promise.all(open.map((conn) => conn.closed));
    await Promise.allSettled([...this.#releases]);
    await this.#options.router.stop().catch((err) => this.#log.warn({ err }, 'unsubscribe failed'));
    this.#wss.close();
    if (open.length) this.#log.info({ sockets: open.length }, 'websocket clients drained');
  }

  async #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', ignore);
    const url = new URL(request.url ?? '/', 'http://gateway');
    if (url.pathname !== WS_PATH)
      return this.#refuse(socket, 404, 'not_found', `no WebSocket endpoint at ${url.pathname}`);
    if (this.#draining)
      return this.#refuse(socket, 503, 'draining', 'this instance is shutting down; reconnect');
    const token =
      bearerToken(request.headers.authorization) ?? url.searchParams.get('access_token') ?? undefined;
    let identity: Identity;
    try {
      if (!token) throw new Error('missing token (Authorization: Bearer, or ?access_token=)');
      identity = await this.#options.tokens.verify(token);
    } catch (err) {
      return this.#refuse(
        socket,
        401,
        'unauthorized',
        `a valid token is required: ${(err as Error).message}`,
      );
    }
    if (this.#draining)
      return this.#refuse(socket, 503, 'draining', 'this instance is shutting down; reconnect');
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      socket.off('error', ignore);
      this.#accept(ws, socket, identity);
    });
  }

  #refuse(socket: Duplex, status: number, outcome: string, detail: string): void {
    this.#metrics.connections.inc({ outcome });
    const body = JSON.stringify({
      type: 'about:blank',
      title: STATUS_TEXT[status] ?? 'Error',
      status,
      detail,
      code: `SDLAB_CHAT_WS_${outcome.toUpperCase()}`,
    });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
        'Connection: close\r\nContent-Type: application/problem+json\r\n' +
        `${status === 503 ? 'Retry-After: 1\r\n' : ''}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  #accept(ws: WebSocket, socket: Duplex, identity: Identity): void {
    this.#metrics.connections.inc({ outcome: 'accepted' });
    const config = this.#config;
    const conn: Connection = new Connection(
      randomBytes(9).toString('base64url'),
      ws,
      socket,
      identity,
      {
        sendHighWaterBytes: config.SEND_HIGH_WATER_BYTES,
        sendQueueMax: config.SEND_QUEUE_MAX,
        sendQueueMaxBytes: config.SEND_QUEUE_MAX_BYTES,
        inboundQueueMax: config.INBOUND_QUEUE_MAX,
        closeGraceMs: config.CLOSE_GRACE_MS,
      },
      () => conn.close(CloseCodes.SLOW_CONSUMER, 'slow consumer: reconnect and sync', 'slow_consumer'),
    );
    this.#byId.set(conn.id, conn);
    const userConns = this.#byUser.get(conn.userId);
    if (userConns) userConns.add(conn);
    else this.#byUser.set(conn.userId, new Set([conn]));
    this.#metrics.openSockets.inc();

    const onError = (err: unknown) => this.#log.error({ err, connectionId: conn.id }, 'frame handler failed');
    ws.on('pong', () => {
      conn.alive = true;
    });
    const handle = (frames: Inbound[]) => this.#frames(conn, frames);
    ws.on('message', (data, isBinary) => {
      conn.receive({ data: data as Buffer, isBinary }, handle, onError);
    });
    ws.on('close', (code) => this.#closed(conn, code));
    ws.on('error', (err) => this.#log.debug({ err, connectionId: conn.id }, 'socket error'));
    conn.enqueue(() => this.#open(conn), onError);
  }

  /** Registers the connection, replaces an older one of the same device, says hello. */
  async #open(conn: Connection): Promise<void> {
    await tracer.startActiveSpan(Span.connect, async (span) => {
      span.setAttributes({
        [Attr.instance]: this.#options.instanceId,
        [Attr.userId]: conn.userId,
        [Attr.deviceId]: conn.deviceId,
        [Attr.connectionId]: conn.id,
      });
      try {
        const claim = await this.#options.registry.claim(conn.ref);
        if (!claim.ok) {
          conn.close(
            CloseCodes.TOO_MANY_DEVICES,
            'too many devices connected for this user',
            'too_many_devices',
          );
          return;
        }
        conn.claimed = true;
        if (claim.previous) {
          await this.#options.router
            .kick(claim.previous)
            .catch((err) => this.#log.warn({ err }, 'could not close the replaced connection'));
        }
        if (conn.closing) return;
        conn.ready = true;
        conn.send({
          v: PROTOCOL_VERSION,
          type: 'hello',
          connectionId: conn.id,
          instanceId: this.#options.instanceId,
          userId: conn.userId,
          deviceId: conn.deviceId,
          heartbeatMs: this.#config.HEARTBEAT_INTERVAL_MS,
          limits: {
            maxFrameBytes: this.#config.MAX_FRAME_BYTES,
            maxMessageChars: this.#config.MAX_MESSAGE_CHARS,
            pageMax: this.#config.PAGE_MAX,
            syncConversationsMax: SYNC_CONVERSATIONS_MAX,
          },
        });
        conn.after(conn.expiresAtMs - Date.now(), () =>
          conn.close(CloseCodes.TOKEN_EXPIRED, 'token expired: get a new one and reconnect', 'token_expired'),
        );
      } catch (err) {
        this.#log.warn({ err, connectionId: conn.id }, 'could not register the connection');
        conn.close(CloseCodes.SERVER_ERROR, 'registry unavailable: reconnect shortly', 'server_error');
      } finally {
        span.end();
      }
    });
  }

  /**
   * The frames that waited, in order: a run of consecutive sends is handled as one (stored in one
   * commit, acked in one write); every other frame on its own, after what came before it.
   */
  async #frames(conn: Connection, frames: Inbound[]): Promise<void> {
    let sends: SendFrame[] = [];
    for (const { data, isBinary } of frames) {
      const parsed = this.#options.parser.parse(data, isBinary);
      if (parsed.ok && parsed.frame.type === 'send') {
        sends.push(parsed.frame);
        // A socket read can carry hundreds of frames: a run stays within INBOUND_QUEUE_MAX.
        if (sends.length >= this.#config.INBOUND_QUEUE_MAX) {
          await this.#options.chat.sendAll(conn, sends);
          sends = [];
          if (conn.closing) return;
        }
        continue;
      }
      if (sends.length > 0) {
        await this.#options.chat.sendAll(conn, sends);
        sends = [];
      }
      if (conn.closing) return;
      await this.#frame(conn, parsed);
    }
    if (sends.length > 0) await this.#options.chat.sendAll(conn, sends);
  }

  async #frame(conn: Connection, parsed: Parsed): Promise<void> {
    if (!parsed.ok) {
      this.#metrics.frames.inc({ type: 'invalid', outcome: parsed.code });
      conn.send(errorFrame(parsed.code, parsed.message, { ref: parsed.ref, field: parsed.field }));
      return;
    }
    const { frame } = parsed;
    const chat = this.#options.chat;
    switch (frame.type) {
      case 'send':
        return chat.send(conn, frame);
      case 'typing':
        return chat.typing(conn, frame);
      case 'receipt':
        return chat.receipt(conn, frame);
      case 'sync':
        return chat.sync(conn, frame);
      case 'ping':
        return chat.ping(conn, frame);
    }
  }

  #closed(conn: Connection, code: number): void {
    this.#byId.delete(conn.id);
    const userConns = this.#byUser.get(conn.userId);
    userConns?.delete(conn);
    if (userConns?.size === 0) this.#byUser.delete(conn.userId);
    this.#metrics.openSockets.dec();
    const reason: DisconnectReason =
      conn.closeReason ?? (code === CloseCodes.TOO_BIG ? 'frame_too_big' : 'client');
    this.#metrics.disconnects.inc({ reason });
    conn.dispose();
    // After the frames in flight (the registration among them), so a fast close cannot run first.
    const release: Promise<unknown> = conn.idle
      .then(() => (conn.claimed ? this.#options.registry.release(conn.ref) : undefined))
      .catch((err) =>
        this.#log.warn({ err, connectionId: conn.id }, 'registry entry not released; it expires'),
      )
      .finally(() => this.#releases.delete(release));
    this.#releases.add(release);
  }

  /**
   * Every interval: a socket that has not answered the last ping with a pong is cut (the peer is gone
   * without a FIN: a phone that lost coverage); the others are pinged, and their registry entries
   * are refreshed in one pipeline. An entry that now names another connection of the same device
   * means it reconnected elsewhere: this socket is closed.
   */
  async #beat(): Promise<void> {
    if (this.#beating || this.#draining) return;
    this.#beating = true;
    const started = performance.now();
    try {
      const live: Connection[] = [];
      for (const conn of this.#byId.values()) {
        if (conn.closing || !conn.claimed) continue;
        if (!conn.alive) {
          conn.terminate('ping_timeout');
          continue;
        }
        conn.alive = false;
        conn.ws.ping();
        live.push(conn);
      }
      const current = await this.#options.registry.refresh(live.map((conn) => conn.ref));
      current.forEach((ours, i) => {
        if (!ours)
          live[i]!.close(CloseCodes.REPLACED, 'replaced by a newer connection of this device', 'replaced');
      });
    } catch (err) {
      this.#log.warn({ err }, 'heartbeat: registry refresh failed; entries live until their TTL');
    } finally {
      this.#metrics.heartbeatDuration.observe((performance.now() - started) / 1000);
      this.#beating = false;
    }
  }
}

/** Conversations one sync frame may name. */
export const SYNC_CONVERSATIONS_MAX = 50;

const STATUS_TEXT: Record<number, string> = {
  401: 'Unauthorized',
  404: 'Not Found',
  503: 'Service Unavailable',
};

function ignore(): void {}
