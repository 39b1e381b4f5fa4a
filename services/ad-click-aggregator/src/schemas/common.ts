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

export { ProblemSchema } from '@sdlab/service-kit';
