import Type from 'typebox';

export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });

/** Who is buying: the access token (`Authorization: Bearer <JWT>`), verified by the route. */
export const UserHeaders = Type.Object({
  // Optional here so a request without one gets the 401 of requireToken, not a 400.
  authorization: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
});

export { ProblemSchema as Problem } from '@sdlab/service-kit';

export const EventIdParams = Type.Object({ eventId: Uuid });
