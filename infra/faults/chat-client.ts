/**
 * A chat-gateway client for the fault scenarios, on Node's built-in WebSocket (the token travels
 * as `?access_token=`, which the gateway accepts for clients that cannot set headers). It keeps
 * what the protocol asks a client to keep: every frame, and the messages it holds per
 * conversation by seq, so a live copy and a synced copy of one message count once.
 */
import { call, expectStatus } from './probe.ts';

type Frame = { type: string } & Record<string, unknown>;

export interface HeldMessage {
  conversationId: string;
  seq: number;
  senderId: string;
  clientMsgId: string;
  text: string;
}

export async function chatToken(baseUrl: string, userId: string, deviceId = 'phone'): Promise<string> {
  const answer = await call(`${baseUrl}/tokens`, { json: { userId, deviceId } });
  expectStatus(answer, 201, `token for ${userId}`);
  return (answer.body as { token: string }).token;
}

export async function directConversation(baseUrl: string, token: string, peerId: string): Promise<string> {
  const answer = await call(`${baseUrl}/conversations/direct`, {
    json: { peerId },
    headers: { authorization: `Bearer ${token}` },
  });
  expectStatus(answer, [200, 201], `direct conversation with ${peerId}`);
  return (answer.body as { id: string }).id;
}

export class ChatClient {
  readonly frames: Frame[] = [];
  /** Every message as it arrived live (duplicates included), per conversation. */
  readonly liveArrivals: HeldMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #ws: WebSocket;
  readonly #held = new Map<string, Map<number, HeldMessage>>();
  readonly #waiters = new Set<() => void>();
  #closedWith: { code: number; reason: string } | undefined;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.closed = new Promise((resolve) => {
      ws.addEventListener('close', (event) => {
        this.#closedWith = { code: event.code, reason: event.reason };
        resolve(this.#closedWith);
        this.#wake();
      });
    });
    ws.addEventListener('message', (event) => {
      const frame = JSON.parse(String(event.data)) as Frame;
      this.frames.push(frame);
      if (frame.type === 'message') {
        this.liveArrivals.push(frame as unknown as HeldMessage);
        this.#hold(frame as unknown as HeldMessage);
      }
      if (frame.type === 'history') {
        for (const m of frame.messages as HeldMessage[])
          this.#hold({ ...m, conversationId: String(frame.conversationId) });
      }
      this.#wake();
    });
  }

  /** Opens a socket and waits for `hello`; rejects with the close code if the gateway closes it first. */
  static async connect(baseUrl: string, token: string, timeoutMs = 10_000): Promise<ChatClient> {
    const ws = new WebSocket(
      `${baseUrl.replace(/^http/, 'ws')}/ws?access_token=${encodeURIComponent(token)}`,
    );
    const client = new ChatClient(ws);
    try {
      await client.waitFor((f) => f.type === 'hello', 0, timeoutMs);
    } catch (error) {
      client.terminate();
      throw error;
    }
    return client;
  }

  /** The close code the gateway answers a connection with, or 'hello' if it accepts it (then closed). */
  static async outcome(baseUrl: string, token: string, timeoutMs = 10_000): Promise<number | 'hello'> {
    const ws = new WebSocket(
      `${baseUrl.replace(/^http/, 'ws')}/ws?access_token=${encodeURIComponent(token)}`,
    );
    const client = new ChatClient(ws);
    try {
      await client.waitFor((f) => f.type === 'hello', 0, timeoutMs);
      await client.close();
      return 'hello';
    } catch (error) {
      if (client.closeCode !== undefined) return client.closeCode;
      client.terminate();
      throw error;
    }
  }

  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  get closeCode(): number | undefined {
    return this.#closedWith?.code;
  }

  frame(frame: Record<string, unknown>): void {
    this.#ws.send(JSON.stringify({ v: 1, ...frame }));
  }

  async waitFor(match: (frame: Frame) => boolean, from = 0, timeoutMs = 10_000): Promise<Frame> {
    const found = () => this.frames.slice(from).find(match);
    return new Promise<Frame>((resolve, reject) => {
      const check = () => {
        const frame = found();
        if (frame) {
          done();
          resolve(frame);
        } else if (this.#closedWith) {
          done();
          reject(new Error(`socket closed (${this.#closedWith.code} ${this.#closedWith.reason})`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `no matching frame within ${timeoutMs} ms; last: ${JSON.stringify(this.frames.slice(-2))}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Sends a message; resolves with its `ack` or the `error` frame about it. */
  async send(conversationId: string, clientMsgId: string, text: string, timeoutMs = 10_000): Promise<Frame> {
    const from = this.frames.length;
    this.frame({ type: 'send', conversationId, clientMsgId, text, clientTs: Date.now() });
    return this.waitFor(
      (f) =>
        (f.type === 'ack' || f.type === 'error') && (f.clientMsgId === clientMsgId || f.ref === clientMsgId),
      from,
      timeoutMs,
    );
  }

  /** Catches up from `afterSeq`, page by page, until the server has no more. */
  async sync(conversationId: string, afterSeq = 0): Promise<void> {
    let cursor = afterSeq;
    for (;;) {
      const from = this.frames.length;
      this.frame({ type: 'sync', conversations: [{ conversationId, afterSeq: cursor }] });
      const page = await this.waitFor(
        (f) =>
          (f.type === 'history' || f.type === 'error') &&
          (f.conversationId === conversationId || f.ref === conversationId),
        from,
      );
      if (page.type !== 'history') throw new Error(`sync refused: ${JSON.stringify(page)}`);
      const messages = page.messages as HeldMessage[];
      if (!page.hasMore || messages.length === 0) return;
      cursor = messages[messages.length - 1]!.seq;
    }
  }

  /** Messages held for a conversation, in seq order, each once. */
  messages(conversationId: string): HeldMessage[] {
    return [...(this.#held.get(conversationId)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  }

  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return;
    this.#ws.close(1000);
    await Promise.race([this.closed, new Promise((resolve) => setTimeout(resolve, 2000))]);
  }

  terminate(): void {
    if (this.#ws.readyState !== WebSocket.CLOSED) this.#ws.close();
  }

  #hold(message: HeldMessage): void {
    let held = this.#held.get(message.conversationId);
    if (!held) {
      held = new Map();
      this.#held.set(message.conversationId, held);
    }
    held.set(message.seq, message);
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
