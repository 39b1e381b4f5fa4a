import Type from 'typebox';
import { URL_MAX_LENGTH } from '../domain/url.ts';
import { CodeSchema, Timestamp } from './common.ts';

export const CreateLinkBody = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: URL_MAX_LENGTH,
      format: 'uri',
      // Scheme checked here too, so a bad one is a validation error naming body.url.
      pattern: '^[Hh][Tt][Tt][Pp][Ss]?://',
      examples: ['https://example.com/a/very/long/path?with=query'],
    }),
    alias: Type.Optional(
      Type.String({
        minLength: 3,
        maxLength: 32,
        pattern: '^[A-Za-z0-9_-]+$',
        description: 'Custom code; letters, digits, _ and -. Reserved: api, docs, healthz, readyz, metrics',
      }),
    ),
    expiresAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'After it the link answers 410' }),
    ),
  },
  { additionalProperties: false },
);

export const CreateLinkHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'A retried create with the same key returns the first result (24 h)',
    }),
  ),
});

export const LinkSchema = Type.Object({
  code: CodeSchema,
  shortUrl: Type.String(),
  url: Type.String(),
  createdAt: Timestamp,
  expiresAt: Type.Union([Timestamp, Type.Null()]),
});

export const LinkStatsSchema = Type.Object({
  code: CodeSchema,
  totalClicks: Type.Integer({ minimum: 0 }),
  uniqueVisitors: Type.Integer({ minimum: 0, description: 'HyperLogLog estimate (~0.81% standard error)' }),
  lastClickAt: Type.Union([Timestamp, Type.Null()]),
});
