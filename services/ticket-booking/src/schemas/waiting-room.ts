import Type from 'typebox';
import { Timestamp } from './common.ts';

export const RoomState = Type.Union([
  Type.Object({
    status: Type.Literal('waiting'),
    position: Type.Integer({ minimum: 1 }),
    estimatedWaitSeconds: Type.Integer({ minimum: 0 }),
  }),
  Type.Object({ status: Type.Literal('admitted'), accessToken: Type.String(), expiresAt: Timestamp }),
]);

export const StreamQuery = Type.Object(
  { userId: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.@:-]+$' }) },
  { additionalProperties: false },
);
