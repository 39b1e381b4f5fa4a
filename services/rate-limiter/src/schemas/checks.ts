import Type from 'typebox';

export const CheckSchema = Type.Object(
  {
    key: Type.String({
      minLength: 1,
      maxLength: 256,
      // Printable, no whitespace: the key becomes part of a Redis key and may reach a log line.
      pattern: '^[\\x21-\\x7E]+$',
      description: 'The subject being limited: a user id, API key, IP ...',
      examples: ['user-42'],
    }),
    rule: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9_-]*$', examples: ['free'] }),
    cost: Type.Integer({ minimum: 1, maximum: 1000, default: 1, description: 'Units this request uses' }),
  },
  { additionalProperties: false },
);

export const DecisionSchema = Type.Object({
  allowed: Type.Boolean(),
  limit: Type.Integer({ description: "The rule's quota: its limit, or a bucket's capacity" }),
  windowMs: Type.Integer({ description: "The rule's window; for a bucket, the time to refill from empty" }),
  remaining: Type.Integer({ description: 'Units left after this request' }),
  resetMs: Type.Integer({ description: 'Until the quota is fully available again' }),
  retryAfterMs: Type.Integer({
    description: 'Until a request of this cost would be admitted; 0 when allowed',
  }),
  policy: Type.String({ description: 'The rule name (the policy of the RateLimit headers)' }),
  source: Type.Union(
    [
      Type.Literal('redis'),
      Type.Literal('local-cache'),
      Type.Literal('local-fallback'),
      Type.Literal('fail-open'),
      Type.Literal('fail-closed'),
    ],
    { description: 'What decided: Redis, the hot-key cache, or a failure policy' },
  ),
});

export function batchSchema(max: number) {
  return Type.Object(
    { checks: Type.Array(CheckSchema, { minItems: 1, maxItems: max }) },
    { additionalProperties: false },
  );
}

export const BatchResultSchema = Type.Object({ results: Type.Array(DecisionSchema) });

const header = (description: string) => Type.String({ description });

/** Documented response headers of a single check (a map of header name to schema, as OpenAPI has it). */
export const DecisionHeaders = {
  'ratelimit-policy': header('IETF draft: "<rule>";q=<quota>;w=<window seconds>'),
  ratelimit: header('IETF draft: "<rule>";r=<remaining>;t=<seconds until reset>'),
  'x-ratelimit-limit': header('Quota'),
  'x-ratelimit-remaining': header('Units left'),
  'x-ratelimit-reset': header('Seconds until the quota is full again'),
  'x-ratelimit-source': header('redis | local-cache | local-fallback | fail-open | fail-closed'),
  'retry-after': header('Seconds until a retry can pass; only when denied'),
};
