import Type from 'typebox';
import { AdIdSchema, GranularityParam, GranularitySchema, Timestamp } from './common.ts';

export const TopQuery = Type.Object(
  {
    granularity: GranularityParam,
    window: Type.String({ format: 'date-time', description: 'Any instant inside the window' }),
    k: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
    source: Type.Optional(
      Type.Union([Type.Literal('auto'), Type.Literal('postgres')], {
        default: 'auto',
        description:
          'auto: the Redis sorted set (seeded from Postgres on first use); postgres: the exact ranking',
      }),
    ),
  },
  { additionalProperties: false },
);

export const TopSchema = Type.Object({
  granularity: GranularitySchema,
  windowStart: Timestamp,
  source: Type.Union([Type.Literal('redis'), Type.Literal('postgres')]),
  ads: Type.Array(Type.Object({ adId: AdIdSchema, clicks: Type.Integer({ minimum: 0 }) })),
});
