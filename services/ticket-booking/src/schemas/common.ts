import Type from 'typebox';

export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });

/** Who is buying. Stand-in for authentication: a real deployment takes it from the session. */
export const UserHeaders = Type.Object({
  'x-user-id': Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.@:-]+$' }),
});

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    code: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { additionalProperties: true },
);

export const EventIdParams = Type.Object({ eventId: Uuid });
