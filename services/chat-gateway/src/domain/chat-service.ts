import { type Context, context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Decision, RateLimiter } from '@sdlab/rate-limit';
import { startSpanIfSampled } from '@sdlab/service-kit';
import type { FastifyBaseLogger } from 'fastify';
import { LRUCache } from 'lru-cache';
import type {
  Message,
  PingFrame,
  ReceiptFrame,
  SendFrame,
  ServerFrame,
  SyncFrame,
  TypingFrame,
} from '../schemas/frames.ts';
import { Attr, type ChatMetrics, Span, tracer } from '../telemetry.ts';
import type { AppendResult, ConversationsRepository } from './conversations-repository.ts';
import type { GroupCommit } from './group-commit.ts';
import { encode, errorFrame } from './protocol.ts';
import type { Router } from './router.ts';

/** The rate-limit rule every connection's `send` and `typing` frames are charged to. */
export const SEND_RULE = 'chat-send';

/** What a frame handler knows about the socket it came from. */
export interface ConnectionContext {
  readonly id: string;
  readonly userId: string;
  readonly deviceId: string;
  send(frame: ServerFrame): void;
}

export interface ChatServiceOptions {
  repository: ConversationsRepository;
  /** Stores sends in group commits; a send's promise settles after the commit that holds it. */
  commits: GroupCommit;
  router: Router;
  limiter: RateLimiter;
  metrics: ChatMetrics;
  log: FastifyBaseLogger;
  pageMax: number;
  historyFrameMaxBytes: number;
}

/**
 * What each client frame does. Messages: rate limit, store with the next seq in a group commit
 * (durable before the ack), ack, then route a copy to every other device of every member. Receipts: store the
 * cumulative position, tell the senders. Typing: route only, never stored. Sync: pages from
 * Postgres after the client's last seen seq.
 */
export class ChatService {
  readonly #repo: ConversationsRepository;
  readonly #commits: GroupCommit;
  readonly #router: Router;
  readonly #limiter: RateLimiter;
  readonly #metrics: ChatMetrics;
  readonly #log: FastifyBaseLogger;
  readonly #pageMax: number;
  readonly #historyFrameMaxBytes: number;
  // Typing indicators are frequent and worthless a few seconds later: their member lists come
  // from a short-lived cache instead of a query each. Messages always read members in their
  // own transaction, so membership changes apply to them at once. ttlResolution 0: the default
  // (1 ms) arms a clock-clearing timer on about every other lookup; 0 reads the clock per check.
  readonly #typingMembers = new LRUCache<string, string[]>({ max: 10_000, ttl: 5000, ttlResolution: 0 });

  constructor(options: ChatServiceOptions) {
    this.#repo = options.repository;
    this.#commits = options.commits;
    this.#router = options.router;
    this.#limiter = options.limiter;
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#pageMax = options.pageMax;
    this.#historyFrameMaxBytes = options.historyFrameMaxBytes;
  }

  async send(conn: ConnectionContext, frame: SendFrame): Promise<void> {
    return this.sendAll(conn, [frame]);
  }

  /**
   * A connection's consecutive send frames, handled together and answered in their order: their
   * rate-limit checks go out in one turn (the limiter coalesces them into one script run, decided
   * in order), the admitted messages are stored in one group commit in this order (so one
   * sender's seqs follow its frames), and the acks are written in one turn (one socket write
   * for all of them, see SendQueue). Each message keeps its own `chat.send` span.
   */
  async sendAll(conn: ConnectionContext, frames: readonly SendFrame[]): Promise<void> {
    const started = performance.now();
    const sends = frames.map((frame) => {
      // Only a send the sampler takes gets a span (and its Redis and Postgres calls theirs): the
      // others cost a token check, not ids, attributes and contexts thrown away.
      const span = startSpanIfSampled(tracer, Span.send, {
        kind: SpanKind.SERVER,
        attributes: {
          [Attr.connectionId]: conn.id,
          [Attr.userId]: conn.userId,
          [Attr.conversationId]: frame.conversationId,
        },
      });
      return { frame, span, context: span && trace.setSpan(context.active(), span) };
    });
    // Under the first send's span: the limiter's and the group commit's client spans (made when
    // their batches run) and the route's trace context are taken from the context they were asked in.
    const first = sends[0]!.context;
    const decisions = await Promise.allSettled(
      sends.map((s) => inContext(s.context, () => this.#limiter.check(conn.id, SEND_RULE))),
    );
    const admitted = sends.filter(
      (_, i) =>
        decisions[i]!.status === 'fulfilled' &&
        (decisions[i] as PromiseFulfilledResult<Decision>).value.allowed,
    );
    let results: AppendResult[] | undefined;
    let commitError: unknown;
    if (admitted.length > 0) {
      try {
        // Settles after the transaction holding these messages committed (or failed: nothing acked).
        results = await inContext(first, () =>
          this.#commits.appendAll(
            admitted.map(({ frame }) => ({
              conversationId: frame.conversationId,
              senderId: conn.userId,
              clientMsgId: frame.clientMsgId,
              text: frame.text,
              clientTs: frame.clientTs,
            })),
          ),
        );
      } catch (err) {
        commitError = err;
      }
    }
    let next = 0;
    for (const [i, { frame, span, context: spanContext }] of sends.entries()) {
      const decision = decisions[i]!;
      if (decision.status === 'rejected' || (commitError !== undefined && decision.value.allowed)) {
        const err = decision.status === 'rejected' ? decision.reason : commitError;
        span?.recordException(err as Error);
        span?.setStatus({ code: SpanStatusCode.ERROR });
        span?.end();
        this.#unavailable(conn, 'send', err, frame.clientMsgId);
        continue;
      }
      if (!decision.value.allowed) {
        this.#metrics.frames.inc({ type: 'send', outcome: 'rate_limited' });
        conn.send(
          errorFrame('rate_limited', 'too many messages; retry later with the same clientMsgId', {
            ref: frame.clientMsgId,
            retryAfterMs: decision.value.retryAfterMs,
          }),
        );
        span?.end();
        continue;
      }
      const result = results![next++]!;
      if (result.status === 'not_a_member' || result.status === 'client_msg_id_taken') {
        this.#metrics.frames.inc({ type: 'send', outcome: result.status });
        conn.send(
          errorFrame(
            result.status,
            result.status === 'not_a_member'
              ? 'no such conversation, or you are not a member of it'
              : 'another sender already used this clientMsgId in this conversation',
            { ref: frame.clientMsgId },
          ),
        );
        span?.end();
        continue;
      }
      const { message } = result;
      const duplicate = result.status === 'duplicate';
      conn.send({
        v: 1,
        type: 'ack',
        conversationId: message.conversationId,
        clientMsgId: message.clientMsgId,
        seq: message.seq,
        createdAt: message.createdAt,
        duplicate,
      });
      this.#metrics.frames.inc({ type: 'send', outcome: 'ok' });
      this.#metrics.messages.inc({ result: duplicate ? 'duplicate' : 'new' });
      this.#metrics.ackDuration.observe((performance.now() - started) / 1000);
      span?.setAttributes({ [Attr.seq]: message.seq, [Attr.duplicate]: duplicate });
      // A duplicate is routed again: the first try may have stored the message and died before
      // routing it. Recipients drop a seq they already have.
      // Routing does not hold up this connection's next frame: the router flushes routes in the
      // order they were asked for, so one sender's messages still go out in seq order, and a
      // routing failure costs only the fast path (recipients sync). The span ends when it is done.
      void inContext(spanContext, () =>
        this.#route(result.members, encode({ v: 1, type: 'message', ...message }), {
          kind: 'message',
          exceptConnectionId: conn.id,
          storedAtMs: Date.parse(message.createdAt),
        }),
      ).then((routed) => {
        if (routed)
          span?.setAttributes({ [Attr.recipients]: routed.online, [Attr.instances]: routed.instances });
        span?.end();
      });
    }
  }

  async typing(conn: ConnectionContext, frame: TypingFrame): Promise<void> {
    try {
      const decision = await this.#limiter.check(conn.id, SEND_RULE);
      if (!decision.allowed) {
        this.#metrics.frames.inc({ type: 'typing', outcome: 'rate_limited' });
        conn.send(
          errorFrame('rate_limited', 'too many frames; slow down', {
            ref: frame.conversationId,
            retryAfterMs: decision.retryAfterMs,
          }),
        );
        return;
      }
      let members = this.#typingMembers.get(frame.conversationId);
      if (!members) {
        members = await this.#repo.memberIds(frame.conversationId);
        this.#typingMembers.set(frame.conversationId, members);
      }
      if (!members.includes(conn.userId)) {
        this.#metrics.frames.inc({ type: 'typing', outcome: 'not_a_member' });
        conn.send(
          errorFrame('not_a_member', 'no such conversation, or you are not a member of it', {
            ref: frame.conversationId,
          }),
        );
        return;
      }
      this.#metrics.frames.inc({ type: 'typing', outcome: 'ok' });
      const typing: ServerFrame = {
        v: 1,
        type: 'typing',
        conversationId: frame.conversationId,
        userId: conn.userId,
        state: frame.state,
      };
      await this.#route(
        members.filter((m) => m !== conn.userId),
        encode(typing),
        { kind: 'typing' },
      );
    } catch (err) {
      this.#unavailable(conn, 'typing', err, frame.conversationId);
    }
  }

  async receipt(conn: ConnectionContext, frame: ReceiptFrame): Promise<void> {
    await tracer.startActiveSpan(Span.receipt, async (span) => {
      span.setAttributes({ [Attr.conversationId]: frame.conversationId, [Attr.seq]: frame.seq });
      try {
        const result = await this.#repo.receipt(frame.conversationId, conn.userId, frame.kind, frame.seq);
        if (!result) {
          this.#metrics.frames.inc({ type: 'receipt', outcome: 'not_a_member' });
          conn.send(
            errorFrame('not_a_member', 'no such conversation, or you are not a member of it', {
              ref: frame.conversationId,
            }),
          );
          return;
        }
        this.#metrics.frames.inc({ type: 'receipt', outcome: 'ok' });
        const before = frame.kind === 'read' ? result.previous.read : result.previous.delivered;
        const after = frame.kind === 'read' ? result.current.read : result.current.delivered;
        if (after <= before) return; // nothing new: an older or repeated receipt
        const senders = await this.#repo.sendersBetween(frame.conversationId, before, after, conn.userId);
        const receipt: ServerFrame = {
          v: 1,
          type: 'receipt',
          conversationId: frame.conversationId,
          userId: conn.userId,
          kind: frame.kind,
          seq: after,
        };
        // The senders see ticks; the user's other devices learn what was read here (receipt sync).
        await this.#route([...new Set([...senders, conn.userId])], encode(receipt), {
          kind: 'receipt',
          exceptConnectionId: conn.id,
        });
      } catch (err) {
        this.#unavailable(conn, 'receipt', err, frame.conversationId);
      } finally {
        span.end();
      }
    });
  }

  /**
   * Offline catch-up: one page per conversation after the client's last seen seq, in order. Each
   * page is charged to the connection's rate limit like a send (a sync is the costliest frame: a
   * query and up to HISTORY_FRAME_MAX_BYTES out); once refused, the rest of the frame is refused
   * with one rate_limited error naming the first conversation not served.
   */
  async sync(conn: ConnectionContext, frame: SyncFrame): Promise<void> {
    const limit = frame.limit ?? this.#pageMax;
    await tracer.startActiveSpan(Span.sync, async (span) => {
      let sent = 0;
      try {
        for (const { conversationId, afterSeq } of frame.conversations) {
          const decision = await this.#limiter.check(conn.id, SEND_RULE);
          if (!decision.allowed) {
            this.#metrics.frames.inc({ type: 'sync', outcome: 'rate_limited' });
            conn.send(
              errorFrame('rate_limited', 'too many sync pages; sync the rest later', {
                ref: conversationId,
                retryAfterMs: decision.retryAfterMs,
              }),
            );
            return;
          }
          const page = await this.#repo.page(conversationId, conn.userId, { afterSeq }, limit);
          if (!page) {
            conn.send(
              errorFrame('not_a_member', 'no such conversation, or you are not a member of it', {
                ref: conversationId,
              }),
            );
            continue;
          }
          const messages = withinBytes(page.messages, this.#historyFrameMaxBytes);
          conn.send({
            v: 1,
            type: 'history',
            conversationId,
            messages,
            hasMore: page.hasMore || messages.length < page.messages.length,
            lastSeq: page.lastSeq,
          });
          sent += messages.length;
        }
        this.#metrics.frames.inc({ type: 'sync', outcome: 'ok' });
      } catch (err) {
        this.#unavailable(conn, 'sync', err, frame.conversations[0]?.conversationId);
      } finally {
        this.#metrics.syncedMessages.inc(sent);
        span.setAttributes({ [Attr.messages]: sent });
        span.end();
      }
    });
  }

  ping(conn: ConnectionContext, frame: PingFrame): void {
    this.#metrics.frames.inc({ type: 'ping', outcome: 'ok' });
    conn.send({ v: 1, type: 'pong', ...(frame.id !== undefined ? { id: frame.id } : {}), ts: Date.now() });
  }

  /** Tells users on any instance that they joined or left a conversation (REST changes membership). */
  async membershipChanged(
    conversationId: string,
    userIds: readonly string[],
    event: 'added' | 'removed',
    by: string,
  ): Promise<void> {
    if (userIds.length === 0) return;
    await this.#route(userIds, encode({ v: 1, type: 'conversation', conversationId, event, by }), {
      kind: 'conversation',
    });
  }

  /** Routes to live devices; a failure here loses only the fast path (clients sync), so it is logged. */
  async #route(...args: Parameters<Router['route']>) {
    try {
      return await this.#router.route(...args);
    } catch (err) {
      this.#log.warn({ err, kind: args[2].kind }, 'live delivery failed; recipients catch up when they sync');
      return undefined;
    }
  }

  #unavailable(conn: ConnectionContext, type: string, err: unknown, ref: string | undefined): void {
    this.#log.warn({ err, type, connectionId: conn.id }, 'frame failed');
    this.#metrics.frames.inc({ type, outcome: 'unavailable' });
    conn.send(
      errorFrame(
        'unavailable',
        'the server could not complete this; retry shortly (a send retried with the same clientMsgId is never stored twice)',
        {
          ref,
          retryAfterMs: 1000,
        },
      ),
    );
  }
}

/** Frame overhead per message besides its text (ids, seq, timestamps, JSON punctuation). */
const MESSAGE_OVERHEAD_BYTES = 256;

/** The longest prefix of a page whose messages fit `maxBytes`; always at least one message. */
function withinBytes(messages: Message[], maxBytes: number): Message[] {
  let bytes = 0;
  for (let i = 0; i < messages.length; i++) {
    bytes += Buffer.byteLength(messages[i]!.text) + MESSAGE_OVERHEAD_BYTES;
    if (bytes > maxBytes && i > 0) return messages.slice(0, i);
  }
  return messages;
}

/** Runs `fn` in the span's context when there is one (a sampled message), as it is otherwise. */
function inContext<T>(ctx: Context | undefined, fn: () => T): T {
  return ctx ? context.with(ctx, fn) : fn();
}
