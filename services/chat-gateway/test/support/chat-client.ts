import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { Message, ServerFrame } from '../../src/schemas/frames.ts';

type Frame = ServerFrame & Record<string, unknown>;
type Of<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

const WAIT_MS = 30_000;

/** The socket closed while a test was waiting for a frame on it. */
export class ClosedError extends Error {
  constructor() {
    super('socket closed');
  }
}

/**
 * A test client that behaves as the protocol asks of a real one: it keeps every frame it got,
 * the messages it holds per conversation (by seq, so a live copy and a synced copy of one
 * message count once), and it can catch up with sync pages.
 */
export class ChatClient {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  /** Every message frame or history entry as it arrived, duplicates included (per conversation). */
  readonly arrivals = new Map<string, number[]>();
  readonly #held = new Map<string, Map<number, Message>>();
  readonly #waiters = new Set<() => void>();
  readonly closed: Promise<{ code: number; reason: string }>;
  hello: Of<'hello'> | undefined;
  pings = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.#wake();
      });
    });
    ws.on('ping', () => {
      this.pings++;
      this.#wake();
    });
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      this.frames.push(frame);
      if (frame.type === 'hello') this.hello = frame;
      if (frame.type === 'message') this.#hold(frame as unknown as Message);
      if (frame.type === 'history') for (const m of frame.messages) this.#hold(m);
      this.#wake();
    });
  }

  static async connect(
    wsUrl: string,
    token: string,
    options: { autoPong?: boolean; viaQuery?: boolean } = {},
  ): Promise<ChatClient> {
    const url = options.viaQuery ? `${wsUrl}?access_token=${encodeURIComponent(token)}` : wsUrl;
    const ws = new WebSocket(url, {
      ...(options.viaQuery ? {} : { headers: { authorization: `Bearer ${token}` } }),
      autoPong: options.autoPong ?? true,
    });
    const client = new ChatClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    await client.waitFor((f) => f.type === 'hello');
    return client;
  }

  /** Connects, refusing to throw: the HTTP status of a refused upgrade. */
  static async refusal(wsUrl: string, token?: string): Promise<number> {
    const ws = new WebSocket(wsUrl, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    return new Promise((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once('open', () => reject(new Error('upgrade unexpectedly accepted')));
      ws.once('error', () => undefined);
    });
  }

  /** Connects and resolves the close code the gateway ends the socket with: a refusal after the handshake. */
  static async closeCode(wsUrl: string, token: string): Promise<number> {
    const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } });
    return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Waits until a frame after index `from` matches (frames already here count). */
  async waitFor<T extends Frame = Frame>(
    match: (frame: Frame) => boolean,
    from = 0,
    timeoutMs = WAIT_MS,
  ): Promise<T> {
    return this.until(() => this.frames.slice(from).find(match) as T | undefined, timeoutMs);
  }

  /**
   * Waits until `probe` returns something (re-checked on every frame, ping and close). Rejects
   * with ClosedError if the socket closes first, unless `orClosed` lets the probe see the close.
   */
  async until<T>(probe: () => T | undefined | false, timeoutMs = WAIT_MS): Promise<T> {
    const first = probe();
    if (first) return first;
    if (this.ws.readyState === WebSocket.CLOSED) throw new ClosedError();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting; last frames: ${JSON.stringify(this.frames.slice(-3))}`));
      }, timeoutMs);
      const check = () => {
        const value = probe();
        const closed = this.ws.readyState === WebSocket.CLOSED;
        if (!value && !closed) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (value) resolve(value);
        else reject(new ClosedError());
      };
      this.#waiters.add(check);
    });
  }

  raw(data: string | Buffer, options: { binary?: boolean } = {}): void {
    this.ws.send(data, { binary: options.binary ?? false });
  }

  frame(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ v: 1, ...frame }));
  }

  /** Sends a message; resolves with its ack or the error frame about it. */
  async send(
    conversationId: string,
    text: string,
    clientMsgId: string = randomUUID(),
  ): Promise<Of<'ack'> | Of<'error'>> {
    const from = this.frames.length;
    this.frame({ type: 'send', conversationId, clientMsgId, text, clientTs: Date.now() });
    return this.waitFor(
      (f) =>
        (f.type === 'ack' || f.type === 'error') && (f.clientMsgId === clientMsgId || f.ref === clientMsgId),
      from,
    );
  }

  /** Catches up from `afterSeq` page by page until the server says there is no more. */
  async syncAll(conversationId: string, afterSeq: number, limit?: number): Promise<Of<'history'>[]> {
    const pages: Of<'history'>[] = [];
    let cursor = afterSeq;
    for (;;) {
      const from = this.frames.length;
      this.frame({
        type: 'sync',
        conversations: [{ conversationId, afterSeq: cursor }],
        ...(limit ? { limit } : {}),
      });
      const page = await this.waitFor<Of<'history'> & Frame>(
        (f) =>
          (f.type === 'history' || f.type === 'error') &&
          (f.conversationId === conversationId || f.ref === conversationId),
        from,
      );
      if (page.type !== 'history') throw new Error(`sync failed: ${JSON.stringify(page)}`);
      pages.push(page);
      if (!page.hasMore || page.messages.length === 0) return pages;
      cursor = page.messages[page.messages.length - 1]!.seq;
    }
  }

  /** Messages held for a conversation, in seq order, each once. */
  messages(conversationId: string): Message[] {
    return [...(this.#held.get(conversationId)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  }

  /** Highest seq such that every seq up to it is held (what the client syncs from on reconnect). */
  lastContiguousSeq(conversationId: string, start = 0): number {
    const held = this.#held.get(conversationId);
    let seq = start;
    while (held?.has(seq + 1)) seq++;
    return seq;
  }

  framesOf<T extends ServerFrame['type']>(type: T): (Of<T> & Frame)[] {
    return this.frames.filter((f) => f.type === type) as (Of<T> & Frame)[];
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    await this.closed;
  }

  terminate(): void {
    this.ws.terminate();
  }

  #hold(message: Message): void {
    const log = this.arrivals.get(message.conversationId);
    if (log) log.push(message.seq);
    else this.arrivals.set(message.conversationId, [message.seq]);
    const held = this.#held.get(message.conversationId);
    if (held) held.set(message.seq, message);
    else this.#held.set(message.conversationId, new Map([[message.seq, message]]));
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
