/**
 * A chat-gateway WebSocket client for tests, shared by the gateway's own tests and the fault
 * scenarios. It behaves as the protocol asks of a real client: it keeps every frame it got and
 * the messages it holds per conversation (by seq, so a live copy and a synced copy of one message
 * count once), and it catches up with sync pages.
 *
 * The gateway owns its frame types; pass its server-frame union as `S` for typed frames
 * (`ChatClient.connect<ServerFrame>(…)`). Without it, frames are loose records.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';

/** A server frame as the client sees it: a `type` and whatever else the frame carries. */
export type ChatFrame<S extends { type: string } = { type: string }> = S & Record<string, unknown>;
/** The frame of one type: narrowed when `S` is a union of frame types, loose otherwise. */
export type ChatFrameOf<S extends { type: string }, T extends string> = string extends S['type']
  ? ChatFrame<S>
  : ChatFrame<Extract<S, { type: T }>>;

/** What the client reads of a stored message to hold it. */
export interface ChatMessage {
  conversationId: string;
  seq: number;
  senderId: string;
  clientMsgId: string;
  text: string;
}

export interface ChatClientOptions {
  /** Send the token as `?access_token=` (what clients that cannot set headers do), not as a Bearer header. */
  viaQuery?: boolean;
  /** Answer the gateway's pings (the default); false plays a client that has gone silent. */
  autoPong?: boolean;
  /** How long connecting, `waitFor`, `send` and `sync` wait unless told otherwise. */
  waitMs?: number;
  /**
   * How long `close()` waits for the closing handshake before it drops the socket. Unset, it waits
   * as long as `ws` does; a fault scenario sets it, because a stopped gateway never answers.
   */
  closeWaitMs?: number;
}

const WAIT_MS = 30_000;

/** The socket closed while a test was waiting for a frame on it. */
export class ClosedError extends Error {
  constructor(code?: number, reason?: string) {
    super(code === undefined ? 'socket closed' : `socket closed (${code} ${reason ?? ''})`.trimEnd());
  }
}

export class ChatClient<S extends { type: string } = { type: string }> {
  readonly ws: WebSocket;
  readonly frames: ChatFrame<S>[] = [];
  /** Every message frame or history entry as it arrived, duplicates included (per conversation). */
  readonly arrivals = new Map<string, number[]>();
  readonly closed: Promise<{ code: number; reason: string }>;
  hello: ChatFrameOf<S, 'hello'> | undefined;
  pings = 0;
  readonly #options: ChatClientOptions;
  readonly #held = new Map<string, Map<number, ChatMessage>>();
  readonly #waiters = new Set<() => void>();
  #closedWith: { code: number; reason: string } | undefined;

  private constructor(wsUrl: string, token: string | undefined, options: ChatClientOptions) {
    this.#options = options;
    const url =
      token !== undefined && options.viaQuery ? `${wsUrl}?access_token=${encodeURIComponent(token)}` : wsUrl;
    this.ws = new WebSocket(url, {
      ...(token !== undefined && !options.viaQuery ? { headers: { authorization: `Bearer ${token}` } } : {}),
      autoPong: options.autoPong ?? true,
    });
    // Errors end in a close, which the waits see; unheard, ws would throw them at the process.
    this.ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.#closedWith = { code, reason: reason.toString() };
        resolve(this.#closedWith);
        this.#wake();
      });
    });
    this.ws.on('ping', () => {
      this.pings++;
      this.#wake();
    });
    this.ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as ChatFrame<S>;
      this.frames.push(frame);
      if (frame.type === 'hello') this.hello = frame as ChatFrameOf<S, 'hello'>;
      if (frame.type === 'message') this.#hold(frame as unknown as ChatMessage);
      if (frame.type === 'history') for (const m of frame.messages as ChatMessage[]) this.#hold(m);
      this.#wake();
    });
  }

  /** Opens a socket and waits for `hello`; rejects (and drops the socket) if it is refused or closed first. */
  static async connect<S extends { type: string } = { type: string }>(
    wsUrl: string,
    token: string,
    options: ChatClientOptions = {},
  ): Promise<ChatClient<S>> {
    const client = new ChatClient<S>(wsUrl, token, options);
    try {
      await client.#opened();
      await client.waitFor((f) => f.type === 'hello');
    } catch (error) {
      client.terminate();
      throw error;
    }
    return client;
  }

  /**
   * The close code the gateway ends a new connection with (a refusal after the handshake), or
   * 'hello' if it accepts it (the socket is then closed again).
   */
  static async outcome(
    wsUrl: string,
    token: string,
    options: ChatClientOptions = {},
  ): Promise<number | 'hello'> {
    const client = new ChatClient(wsUrl, token, options);
    try {
      await client.#opened();
      await client.waitFor((f) => f.type === 'hello');
      await client.close();
      return 'hello';
    } catch (error) {
      if (client.closeCode !== undefined) return client.closeCode;
      client.terminate();
      throw error;
    }
  }

  /** Connects, refusing to throw: the HTTP status of a refused upgrade. */
  static async refusal(wsUrl: string, token?: string): Promise<number> {
    const client = new ChatClient(wsUrl, token, {});
    return new Promise((resolve, reject) => {
      client.ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        client.terminate();
      });
      client.ws.once('open', () => reject(new Error('upgrade unexpectedly accepted')));
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** The code the socket closed with; undefined while it is open. */
  get closeCode(): number | undefined {
    return this.#closedWith?.code;
  }

  /** Waits until a frame after index `from` matches (frames already here count). */
  async waitFor<T extends ChatFrame<S> = ChatFrame<S>>(
    match: (frame: ChatFrame<S>) => boolean,
    from = 0,
    timeoutMs = this.#waitMs,
  ): Promise<T> {
    return this.until(() => this.frames.slice(from).find(match) as T | undefined, timeoutMs);
  }

  /**
   * Waits until `probe` returns something (re-checked on every frame, ping and close). Rejects
   * with ClosedError if the socket closes first.
   */
  async until<T>(probe: () => T | undefined | false, timeoutMs = this.#waitMs): Promise<T> {
    const first = probe();
    if (first) return first;
    if (this.ws.readyState === WebSocket.CLOSED) throw this.#closedError();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting; last frames: ${JSON.stringify(this.frames.slice(-3))}`,
          ),
        );
      }, timeoutMs);
      const check = () => {
        const value = probe();
        const closed = this.ws.readyState === WebSocket.CLOSED;
        if (!value && !closed) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (value) resolve(value);
        else reject(this.#closedError());
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
    timeoutMs = this.#waitMs,
  ): Promise<ChatFrameOf<S, 'ack'> | ChatFrameOf<S, 'error'>> {
    const from = this.frames.length;
    this.frame({ type: 'send', conversationId, clientMsgId, text, clientTs: Date.now() });
    const answer = await this.waitFor(
      (f) =>
        (f.type === 'ack' || f.type === 'error') && (f.clientMsgId === clientMsgId || f.ref === clientMsgId),
      from,
      timeoutMs,
    );
    return answer as ChatFrameOf<S, 'ack'> | ChatFrameOf<S, 'error'>;
  }

  /** Catches up from `afterSeq` page by page until the server says there is no more; the pages. */
  async sync(conversationId: string, afterSeq = 0, limit?: number): Promise<ChatFrameOf<S, 'history'>[]> {
    const pages: ChatFrameOf<S, 'history'>[] = [];
    let cursor = afterSeq;
    for (;;) {
      const from = this.frames.length;
      this.frame({
        type: 'sync',
        conversations: [{ conversationId, afterSeq: cursor }],
        ...(limit ? { limit } : {}),
      });
      const page = await this.waitFor(
        (f) =>
          (f.type === 'history' || f.type === 'error') &&
          (f.conversationId === conversationId || f.ref === conversationId),
        from,
      );
      if (page.type !== 'history') throw new Error(`sync failed: ${JSON.stringify(page)}`);
      pages.push(page as ChatFrameOf<S, 'history'>);
      const messages = page.messages as ChatMessage[];
      if (!page.hasMore || messages.length === 0) return pages;
      cursor = messages[messages.length - 1]!.seq;
    }
  }

  /** Messages held for a conversation, in seq order, each once. */
  messages(conversationId: string): ChatMessage[] {
    return [...(this.#held.get(conversationId)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  }

  /** Highest seq such that every seq up to it is held (what the client syncs from on reconnect). */
  lastContiguousSeq(conversationId: string, start = 0): number {
    const held = this.#held.get(conversationId);
    let seq = start;
    while (held?.has(seq + 1)) seq++;
    return seq;
  }

  framesOf<T extends S['type']>(type: T): ChatFrameOf<S, T>[] {
    return this.frames.filter((f) => f.type === type) as ChatFrameOf<S, T>[];
  }

  /** Says goodbye (1000) and waits for the gateway's close, at most `closeWaitMs` if set. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    const limit = this.#options.closeWaitMs;
    if (limit === undefined) {
      await this.closed;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise((resolve) => (timer = setTimeout(resolve, limit)))]);
    clearTimeout(timer);
    this.terminate();
  }

  /** Drops the socket without a closing handshake (a client that vanished, or one given up on). */
  terminate(): void {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }

  get #waitMs(): number {
    return this.#options.waitMs ?? WAIT_MS;
  }

  /** Resolves once the upgrade is accepted; rejects on a refused upgrade, an error or a close. */
  #opened(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no upgrade within ${this.#waitMs} ms`)), this.#waitMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      this.ws.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.once('unexpected-response', (_req, res) =>
        fail(new Error(`upgrade refused: ${res.statusCode}`)),
      );
      this.ws.once('error', fail);
      this.ws.once('close', (code, reason) => fail(new ClosedError(code, reason.toString())));
    });
  }

  #closedError(): ClosedError {
    return new ClosedError(this.#closedWith?.code, this.#closedWith?.reason);
  }

  #hold(message: ChatMessage): void {
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
