import Type, { type Static, type TSchema } from 'typebox';
import { ClientMsgId, ConversationId, NO_NUL, Seq, UserId } from './common.ts';

// The WebSocket frame protocol, version 1: one JSON object per text frame, each with `v` and
// `type`. The README documents it; every inbound frame is validated against these schemas.

export const PROTOCOL_VERSION = 1;
const V = Type.Literal(PROTOCOL_VERSION);

/** Bounds that come from configuration; the schemas are built once per gateway with them. */
export interface FrameLimits {
  maxMessageChars: number;
  pageMax: number;
  /** Conversations one `sync` frame may name. */
  syncConversationsMax: number;
}

export function clientFrameSchemas(limits: FrameLimits) {
  return {
    send: Type.Object(
      {
        v: V,
        type: Type.Literal('send'),
        conversationId: ConversationId,
        clientMsgId: ClientMsgId,
        text: Type.String({ minLength: 1, maxLength: limits.maxMessageChars, pattern: NO_NUL }),
        /** Sender's clock (ms since epoch), echoed to recipients: display and latency measurement only. */
        clientTs: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
      },
      { additionalProperties: false },
    ),
    typing: Type.Object(
      {
        v: V,
        type: Type.Literal('typing'),
        conversationId: ConversationId,
        state: Type.Enum(['start', 'stop']),
      },
      { additionalProperties: false },
    ),
    receipt: Type.Object(
      {
        v: V,
        type: Type.Literal('receipt'),
        conversationId: ConversationId,
        /** Cumulative: every message up to `seq` was delivered to (or read on) this user's device. */
        kind: Type.Enum(['delivered', 'read']),
        seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
      },
      { additionalProperties: false },
    ),
    sync: Type.Object(
      {
        v: V,
        type: Type.Literal('sync'),
        conversations: Type.Array(
          Type.Object({ conversationId: ConversationId, afterSeq: Seq }, { additionalProperties: false }),
          { minItems: 1, maxItems: limits.syncConversationsMax },
        ),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.pageMax })),
      },
      { additionalProperties: false },
    ),
    ping: Type.Object(
      { v: V, type: Type.Literal('ping'), id: Type.Optional(Type.String({ maxLength: 64 })) },
      { additionalProperties: false },
    ),
  } satisfies Record<string, TSchema>;
}

type ClientSchemas = ReturnType<typeof clientFrameSchemas>;
export type ClientFrameType = keyof ClientSchemas;
export type SendFrame = Static<ClientSchemas['send']>;
export type TypingFrame = Static<ClientSchemas['typing']>;
export type ReceiptFrame = Static<ClientSchemas['receipt']>;
export type SyncFrame = Static<ClientSchemas['sync']>;
export type PingFrame = Static<ClientSchemas['ping']>;
export type ClientFrame = SendFrame | TypingFrame | ReceiptFrame | SyncFrame | PingFrame;

/** A stored message as frames and the history API carry it. */
export const MessageSchema = Type.Object({
  conversationId: ConversationId,
  seq: Seq,
  senderId: UserId,
  clientMsgId: ClientMsgId,
  text: Type.String(),
  createdAt: Type.String({ description: 'when the server stored it (ISO 8601)' }),
  clientTs: Type.Optional(Type.Integer()),
});
export type Message = Static<typeof MessageSchema>;

// Server -> client frames. Typed here so the code that builds them is checked; the README lists them.
export type ServerFrame =
  | {
      v: 1;
      type: 'hello';
      connectionId: string;
      instanceId: string;
      userId: string;
      deviceId: string;
      heartbeatMs: number;
      limits: {
        maxFrameBytes: number;
        maxMessageChars: number;
        pageMax: number;
        syncConversationsMax: number;
      };
    }
  | {
      v: 1;
      type: 'ack';
      conversationId: string;
      clientMsgId: string;
      seq: number;
      createdAt: string;
      duplicate: boolean;
    }
  | ({ v: 1; type: 'message' } & Message)
  | { v: 1; type: 'history'; conversationId: string; messages: Message[]; hasMore: boolean; lastSeq: number }
  | { v: 1; type: 'receipt'; conversationId: string; userId: string; kind: 'delivered' | 'read'; seq: number }
  | { v: 1; type: 'typing'; conversationId: string; userId: string; state: 'start' | 'stop' }
  | { v: 1; type: 'conversation'; conversationId: string; event: 'added' | 'removed'; by: string }
  | { v: 1; type: 'pong'; id?: string; ts: number }
  | {
      v: 1;
      type: 'error';
      code: ErrorCode;
      message: string;
      /** The clientMsgId (send) or conversationId (sync, typing, receipt) the error is about. */
      ref?: string;
      /** Which field of the frame was wrong, as a JSON pointer. */
      field?: string;
      retryAfterMs?: number;
    };

export const ERROR_CODES = [
  'malformed', // not JSON, not an object, or a binary frame
  'frame_too_large', // over MAX_FRAME_BYTES
  'unsupported_version', // `v` is not 1
  'invalid_frame', // unknown type or a field out of bounds
  'rate_limited', // the connection's send budget is spent; retry after retryAfterMs with the same clientMsgId
  'not_a_member', // no such conversation, or the user is not in it
  'client_msg_id_taken', // another sender already used this clientMsgId in the conversation
  'unavailable', // a dependency failed; nothing was stored; retry with the same clientMsgId
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** WebSocket close codes the gateway uses (4000-4999 are the application's). */
export const CloseCodes = {
  /** Normal closure, e.g. the client said goodbye. */
  NORMAL: 1000,
  /** A frame above FRAME_HARD_LIMIT_BYTES (the ws library closes on its own). */
  TOO_BIG: 1009,
  /** The server failed while accepting the connection (registry unreachable); reconnect later. */
  SERVER_ERROR: 1011,
  /** The instance is shutting down: reconnect (through the load balancer) to another one. */
  SERVICE_RESTART: 1012,
  /** The token expired while connected: get a new one and reconnect. */
  TOKEN_EXPIRED: 4001,
  /** The user already has MAX_DEVICES_PER_USER live devices. */
  TOO_MANY_DEVICES: 4003,
  /** Slow consumer: the send queue stayed full; reconnect and sync from the last seen seq. */
  SLOW_CONSUMER: 4008,
  /** The same device connected again (here or on another instance); this older socket is closed. */
  REPLACED: 4009,
} as const;
