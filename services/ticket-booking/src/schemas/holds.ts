import Type from 'typebox';
import { SectionName } from './catalogue.ts';
import { Timestamp, Uuid } from './common.ts';

export const HoldBody = Type.Object(
  {
    // Seat ids are bigserial; past 2^53 a JSON number is no seat id (and would reach Postgres as one).
    seatIds: Type.Array(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), {
      minItems: 1,
      maxItems: 100,
    }),
  },
  { additionalProperties: false },
);

/** A best-available hold: how many seats, optionally in one section; the service picks them. */
export const BestAvailableBody = Type.Object(
  {
    // The same bound as seatIds' length; HOLD_MAX_SEATS then applies to both.
    quantity: Type.Integer({ minimum: 1, maximum: 100 }),
    section: Type.Optional(SectionName),
  },
  { additionalProperties: false },
);

export const HoldHeaders = Type.Object({
  // Optional here so a request without one gets the 401 of requireToken, not a 400.
  authorization: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  /** The waiting room's pass, while the event's room is on. */
  'x-waiting-room-token': Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
});

export const HoldStatus = Type.Union([
  Type.Literal('ACTIVE'),
  Type.Literal('CONFIRMING'),
  Type.Literal('CONFIRMED'),
  Type.Literal('CANCELLED'),
  Type.Literal('EXPIRED'),
  Type.Literal('RELEASED'),
]);

export const HoldSchema = Type.Object({
  id: Uuid,
  eventId: Uuid,
  userId: Type.String(),
  seatIds: Type.Array(Type.Integer()),
  amountCents: Type.Integer(),
  status: HoldStatus,
  expiresAt: Timestamp,
  createdAt: Timestamp,
});

export const HeldSeatSchema = Type.Object({
  id: Type.Integer(),
  section: Type.String(),
  row: Type.Integer(),
  number: Type.Integer(),
  priceCents: Type.Integer(),
});

export const HoldCreated = Type.Object({ hold: HoldSchema, seats: Type.Array(HeldSeatSchema) });

export const HoldIdParams = Type.Object({ holdId: Uuid });

/** A 409 that names the seats already taken, so a client can offer others. */
export const SeatsTakenProblem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    takenSeatIds: Type.Optional(Type.Array(Type.Integer())),
  },
  { additionalProperties: true },
);
