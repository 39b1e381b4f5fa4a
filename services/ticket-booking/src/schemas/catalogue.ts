import Type from 'typebox';
import { CATEGORIES } from '../domain/catalogue.ts';
import { Timestamp, Uuid } from './common.ts';

const Name = Type.String({ minLength: 1, maxLength: 200 });
export const Category = Type.Union(CATEGORIES.map((c) => Type.Literal(c)));
const Price = Type.Integer({ minimum: 0, maximum: 10_000_000 });

/** A section name: printable, so it can never carry a NUL Postgres would refuse. */
export const SectionName = Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9 _-]+$' });

export const SectionSchema = Type.Object(
  {
    name: SectionName,
    rows: Type.Integer({ minimum: 1, maximum: 500 }),
    seatsPerRow: Type.Integer({ minimum: 1, maximum: 1000 }),
  },
  { additionalProperties: false },
);

export const VenueBody = Type.Object(
  {
    name: Name,
    city: Type.String({ minLength: 1, maxLength: 100 }),
    address: Type.Optional(Type.String({ maxLength: 300 })),
    sections: Type.Array(SectionSchema, { minItems: 1, maxItems: 100 }),
  },
  { additionalProperties: false },
);

export const VenueSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  city: Type.String(),
  address: Type.String(),
  sections: Type.Array(SectionSchema),
  capacity: Type.Integer(),
  createdAt: Timestamp,
});

export const EventBody = Type.Object(
  {
    venueId: Uuid,
    name: Name,
    performer: Name,
    description: Type.Optional(Type.String({ maxLength: 5000 })),
    category: Category,
    startsAt: Timestamp,
    prices: Type.Optional(
      Type.Array(Type.Object({ section: SectionName, priceCents: Price }), {
        maxItems: 100,
      }),
    ),
    defaultPriceCents: Type.Optional(Price),
    waitingRoom: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const EventPatchBody = Type.Object(
  {
    name: Type.Optional(Name),
    performer: Type.Optional(Name),
    description: Type.Optional(Type.String({ maxLength: 5000 })),
    category: Type.Optional(Category),
    startsAt: Type.Optional(Timestamp),
    status: Type.Optional(Type.Union([Type.Literal('SCHEDULED'), Type.Literal('CANCELLED')])),
    waitingRoom: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const EventSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  performer: Type.String(),
  description: Type.String(),
  category: Type.String(),
  startsAt: Timestamp,
  status: Type.String(),
  waitingRoom: Type.Boolean(),
  minPriceCents: Type.Integer(),
  maxPriceCents: Type.Integer(),
  seatCount: Type.Integer(),
  version: Type.Integer(),
  updatedAt: Timestamp,
  venue: Type.Object({ id: Uuid, name: Type.String(), city: Type.String(), address: Type.String() }),
});

export const SeatStatus = Type.Union([Type.Literal('AVAILABLE'), Type.Literal('HELD'), Type.Literal('SOLD')]);

/** Seat ids are bigserial: anything past 2^53 is no seat, and no number Postgres can take as one. */
const SeatIdCursor = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const SeatSchema = Type.Object({
  id: Type.Integer(),
  section: Type.String(),
  row: Type.Integer(),
  number: Type.Integer(),
  priceCents: Type.Integer(),
  status: SeatStatus,
});

export const SeatsQuery = Type.Object(
  {
    section: Type.Optional(SectionName),
    status: Type.Optional(SeatStatus),
    afterId: Type.Optional(SeatIdCursor),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
  },
  { additionalProperties: false },
);

export const SeatsPage = Type.Object({
  data: Type.Array(SeatSchema),
  nextAfterId: Type.Union([Type.Integer(), Type.Null()]),
});

export const Availability = Type.Object({
  eventId: Uuid,
  available: Type.Integer(),
  held: Type.Integer(),
  sold: Type.Integer(),
  total: Type.Integer(),
});
