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
