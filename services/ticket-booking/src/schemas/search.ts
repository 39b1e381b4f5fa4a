import Type from 'typebox';
import { Category } from './catalogue.ts';
import { Timestamp, Uuid } from './common.ts';

export const SearchQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    city: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    category: Type.Optional(Category),
    from: Type.Optional(Timestamp),
    to: Type.Optional(Timestamp),
    minPriceCents: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
    maxPriceCents: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
    sort: Type.Union([Type.Literal('relevance'), Type.Literal('date'), Type.Literal('price')], {
      default: 'relevance',
    }),
    size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
  },
  { additionalProperties: false },
);

export const SearchHit = Type.Object({
  id: Uuid,
  name: Type.String(),
  performer: Type.String(),
  description: Type.String(),
  category: Type.String(),
  city: Type.String(),
  venueId: Uuid,
  venueName: Type.String(),
  startsAt: Timestamp,
  status: Type.String(),
  waitingRoom: Type.Boolean(),
  minPriceCents: Type.Integer(),
  maxPriceCents: Type.Integer(),
  seatCount: Type.Integer(),
  updatedAt: Timestamp,
});

export const SearchResult = Type.Object({
  data: Type.Array(SearchHit),
  total: Type.Integer({ description: 'Matches, counted exactly up to 10,000' }),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const SuggestQuery = Type.Object(
  {
    q: Type.String({ minLength: 1, maxLength: 50 }),
    size: Type.Integer({ minimum: 1, maximum: 20, default: 8 }),
  },
  { additionalProperties: false },
);

export const SuggestResult = Type.Object({
  data: Type.Array(
    Type.Object({
      id: Uuid,
      name: Type.String(),
      performer: Type.String(),
      venueName: Type.String(),
      city: Type.String(),
      startsAt: Timestamp,
    }),
  ),
});
