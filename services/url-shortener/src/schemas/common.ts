import Type from 'typebox';

/** A short code in a path: a generated 7-character Base62 code or a custom alias. */
export const CodeSchema = Type.String({
  minLength: 3,
  maxLength: 32,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'Generated 7-character Base62 code or custom alias',
  examples: ['k3X9a1Q'],
});

export const CodeParams = Type.Object({ code: CodeSchema });

export const Timestamp = Type.String({ format: 'date-time', examples: ['2026-01-01T00:00:00.000Z'] });

export { ProblemSchema } from '@sdlab/service-kit';
