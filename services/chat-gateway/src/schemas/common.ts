import Type from 'typebox';

// Identifiers and timestamps shared by the REST schemas and the frame protocol.

/** User and device ids come from the token; they end up in Redis keys, so they stay plain. */
export const UserId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'user id' });
export const DeviceId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'device id' });
export const ConversationId = Type.String({
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
  description: 'conversation id (UUID)',
});
/** Chosen by the client per message (a UUID or a counter); makes a retried send idempotent. */
export const ClientMsgId = Type.String({
  pattern: '^[A-Za-z0-9_:.-]{1,64}$',
  description: 'client message id',
});
/**
 * Pattern of user-written text: no NUL (U+0000), which Postgres cannot store in `text`; without
 * it such a write fails in the database and looks like an outage the client retries forever.
 */
export const NO_NUL = '^[^\\u0000]*$';

/** Per-conversation sequence number, allocated by the server when the message is stored. */
export const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601 time' });

export { ProblemSchema } from '@sdlab/service-kit';
