import Type from 'typebox';
import { Timestamp } from './common.ts';

export const RoomState = Type.Union([
  Type.Object({
    status: Type.Literal('waiting'),
    position: Type.Integer({ minimum: 1 }),
    estimatedWaitSeconds: Type.Integer({ minimum: 0 }),
    /** Opens `GET …/waiting-room/stream?ticket=` for this user (EventSource sends no headers). */
    streamTicket: Type.String(),
  }),
  Type.Object({ status: Type.Literal('admitted'), accessToken: Type.String(), expiresAt: Timestamp }),
]);

export const StreamQuery = Type.Object(
  {
    ticket: Type.String({
      minLength: 1,
      maxLength: 512,
      pattern: '^[A-Za-z0-9_-]+\\.[0-9]+\\.[A-Za-z0-9_-]+$',
    }),
  },
  { additionalProperties: false },
);
