import Type from 'typebox';
import { AdIdSchema, GranularityParam, GranularitySchema, Timestamp } from './common.ts';

export const CreateAdBody = Type.Object(
  {
    adId: Type.Optional(AdIdSchema),
    campaignId: AdIdSchema,
    targetUrl: Type.String({
      minLength: 1,
      maxLength: 2048,
      format: 'uri',
      pattern: '^[Hh][Tt][Tt][Pp][Ss]?://',
      description: "The advertiser's landing page a click is redirected to",
      examples: ['https://shop.example.com/spring-sale'],
    }),
  },
  { additionalProperties: false },
);

export const AdSchema = Type.Object({
  adId: AdIdSchema,
  campaignId: AdIdSchema,
  targetUrl: Type.String(),
  createdAt: Timestamp,
});

export const AdParams = Type.Object({ adId: AdIdSchema });

export const SignBody = Type.Object(
  {
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1 })),
  },
  { additionalProperties: false },
);

export const SignedImpressionsSchema = Type.Object({
  impressions: Type.Array(
    Type.Object({
      id: Type.String({ description: 'Signed impression id' }),
      clickUrl: Type.String({ description: 'Path of the click URL to put behind the ad' }),
    }),
  ),
});

export const ClicksQuery = Type.Object(
  {
    granularity: GranularityParam,
    from: Timestamp,
    to: Timestamp,
  },
  { additionalProperties: false },
);

export const ClicksSchema = Type.Object({
  adId: AdIdSchema,
  granularity: GranularitySchema,
  from: Timestamp,
  to: Timestamp,
  total: Type.Integer({ minimum: 0 }),
  buckets: Type.Array(Type.Object({ start: Timestamp, clicks: Type.Integer({ minimum: 0 }) }), {
    description: 'Windows with at least one click, oldest first',
  }),
  finalBefore: Type.Union([Timestamp, Type.Null()], {
    description: 'Windows ending at or before this instant are final (every partition watermark passed them)',
  }),
});
