import Type from 'typebox';
import { AD_ID_PATTERN } from '../domain/impression.ts';

export const AdIdSchema = Type.String({
  minLength: 1,
  maxLength: 24,
  pattern: AD_ID_PATTERN,
  description: 'Letters, digits, _ and -; at most 24 characters',
  examples: ['ad-42'],
});

export const Timestamp = Type.String({ format: 'date-time', examples: ['2026-01-01T12:00:00.000Z'] });

const granularity = (options: { default?: string } = {}) =>
  Type.Union([Type.Literal('minute'), Type.Literal('hour'), Type.Literal('day')], {
    description: 'Window size: tumbling UTC minute, hour or day',
    ...options,
  });

export const GranularitySchema = granularity();
/** The optional query parameter, `minute` when absent. */
export const GranularityParam = Type.Optional(granularity({ default: 'minute' }));

/** RFC 9457 problem details as the kit renders them (extra members such as `checks` pass through). */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    code: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { additionalProperties: true, description: 'application/problem+json' },
);
