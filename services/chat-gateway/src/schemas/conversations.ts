import Type from 'typebox';
import { ConversationId, NO_NUL, Seq, Timestamp, UserId } from './common.ts';
import { MessageSchema } from './frames.ts';

export const ConversationSchema = Type.Object({
  id: ConversationId,
  kind: Type.Enum(['direct', 'group']),
  title: Type.Union([Type.String(), Type.Null()]),
  createdBy: UserId,
  createdAt: Timestamp,
  /** Seq of the newest message; a client whose last seen seq is lower has something to sync. */
  lastSeq: Seq,
});

export const MemberSchema = Type.Object({
  userId: UserId,
  role: Type.Enum(['owner', 'member']),
  joinedAt: Timestamp,
  /** Cumulative receipts: every message up to this seq was delivered to / read by the member. */
  deliveredSeq: Seq,
  readSeq: Seq,
});

export const ConversationDetailSchema = Type.Object({
  ...ConversationSchema.properties,
  members: Type.Array(MemberSchema),
});

export const ConversationSummarySchema = Type.Object({
  ...ConversationSchema.properties,
  memberCount: Type.Integer({ minimum: 0 }),
  deliveredSeq: Seq,
  readSeq: Seq,
});

export const ConversationParams = Type.Object({ id: ConversationId });

export const OpenDirectBody = Type.Object({ peerId: UserId }, { additionalProperties: false });

export function createGroupBody(maxMembers: number) {
  return Type.Object(
    {
      title: Type.String({ minLength: 1, maxLength: 100, pattern: NO_NUL }),
      /** Besides the creator, who becomes the owner. */
      memberIds: Type.Array(UserId, { minItems: 1, maxItems: maxMembers - 1, uniqueItems: true }),
    },
    { additionalProperties: false },
  );
}

export function addMembersBody(maxMembers: number) {
  return Type.Object(
    { userIds: Type.Array(UserId, { minItems: 1, maxItems: maxMembers, uniqueItems: true }) },
    { additionalProperties: false },
  );
}

export const ListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    /** The last id of the previous page (keyset pagination). */
    after: Type.Optional(ConversationId),
  },
  { additionalProperties: false },
);

export function historyQuery(pageMax: number) {
  return Type.Object(
    {
      /** Catch up: messages with seq > afterSeq, oldest first. */
      afterSeq: Type.Optional(Seq),
      /** Scroll back: the newest messages with seq < beforeSeq (default: the newest of all). */
      beforeSeq: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
      limit: Type.Integer({ minimum: 1, maximum: pageMax, default: Math.min(50, pageMax) }),
    },
    { additionalProperties: false },
  );
}

export const HistorySchema = Type.Object({
  conversationId: ConversationId,
  lastSeq: Seq,
  /** Always in ascending seq order. */
  messages: Type.Array(MessageSchema),
  /** The cursor of the next page in the same direction, or null at the end. */
  next: Type.Union([Type.Object({ afterSeq: Seq }), Type.Object({ beforeSeq: Seq }), Type.Null()]),
});
