import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import Type, { type Static, type TSchema } from 'typebox';

// Rules are data: a config file (or a service's code) lists them, this module validates them once,
// and the limiter only ever sees rules that passed. Every problem names the rule and the field, so
// a bad deploy or reload says exactly what to fix.

export const ALGORITHMS = [
  'token-bucket',
  'sliding-window-log',
  'sliding-window-counter',
  'fixed-window',
] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export const FAILURE_POLICIES = ['fail-open', 'fail-closed', 'local-fallback'] as const;
export type FailurePolicy = (typeof FAILURE_POLICIES)[number];

export const MODES = ['exact', 'local-cache'] as const;
export type Mode = (typeof MODES)[number];

/** Rule names end up in Redis keys, metric labels and the RateLimit header's sf-string: keep them plain. */
const RuleName = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' });

const LocalCache = Type.Object(
  {
    /** Units one instance may admit between two syncs with Redis; the over-admission bound scales with it. */
    share: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
    /** How often an instance commits what it admitted and refreshes its view of the shared count. */
    syncMs: Type.Integer({ minimum: 10, maximum: 60_000 }),
  },
  { additionalProperties: false },
);

const Common = {
  name: RuleName,
  failurePolicy: Type.Enum(FAILURE_POLICIES),
  mode: Type.Enum(MODES),
  localCache: Type.Optional(LocalCache),
  /** Per-instance limit while Redis is down (local-fallback); defaults to the rule's own limit. */
  fallbackLimit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
  description: Type.Optional(Type.String({ maxLength: 200 })),
};

export const TokenBucketRuleSchema = Type.Object(
  {
    ...Common,
    algorithm: Type.Literal('token-bucket'),
    capacity: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
    refillPerSec: Type.Number({ exclusiveMinimum: 0, maximum: 10_000_000 }),
  },
  { additionalProperties: false },
);

export const WindowRuleSchema = Type.Object(
  {
    ...Common,
    algorithm: Type.Enum(['sliding-window-log', 'sliding-window-counter', 'fixed-window']),
    limit: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
    windowMs: Type.Integer({ minimum: 100, maximum: 86_400_000 }),
  },
  { additionalProperties: false },
);

export type TokenBucketRule = Static<typeof TokenBucketRuleSchema>;
export type WindowRule = Static<typeof WindowRuleSchema>;
export type Rule = TokenBucketRule | WindowRule;

/** What a rule's author may leave out; `parseRules` fills these in. */
export type RuleInput = Omit<Rule, 'failurePolicy' | 'mode'> & { failurePolicy?: FailurePolicy; mode?: Mode };

export const RULE_DEFAULTS = { failurePolicy: 'local-fallback', mode: 'exact' } as const;

/**
 * The sliding-window log keeps one sorted-set member per admitted unit, so its limit is its memory
 * per key. Past this, a counter or bucket does the same job in constant space.
 */
export const SLIDING_LOG_MAX_LIMIT = 100_000;

export class RulesError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], source = 'rules') {
    super(`invalid ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'RulesError';
    this.problems = problems;
  }
}

const ajv = new Ajv({ allErrors: true });
const Base = Type.Object({ name: RuleName, algorithm: Type.Enum(ALGORITHMS) });
const validators: { base: ValidateFunction; byAlgorithm: Record<Algorithm, ValidateFunction> } = {
  base: ajv.compile(Base),
  byAlgorithm: {
    'token-bucket': ajv.compile(TokenBucketRuleSchema as TSchema),
    'sliding-window-log': ajv.compile(WindowRuleSchema as TSchema),
    'sliding-window-counter': ajv.compile(WindowRuleSchema as TSchema),
    'fixed-window': ajv.compile(WindowRuleSchema as TSchema),
  },
};

/**
 * Validates a list of rules and fills defaults. Throws a RulesError listing every problem as
 * `rule "<name>" (rules[i]): <field> <message>`. Validation runs in two steps (name and algorithm
 * first, then the algorithm's own schema) so a mistake reads as one field, not as a union mismatch.
 */
export function parseRules(input: unknown, source?: string): Rule[] {
  if (!Array.isArray(input)) throw new RulesError(['rules must be a list'], source);
  const problems: string[] = [];
  const rules: Rule[] = [];
  const seen = new Map<string, number>();
  input.forEach((raw, index) => {
    const label = ruleLabel(raw, index);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`${label}: must be an object`);
      return;
    }
    const candidate: Record<string, unknown> = { ...RULE_DEFAULTS, ...(raw as Record<string, unknown>) };
    if (!validators.base(candidate)) {
      problems.push(...describe(label, validators.base.errors));
      return;
    }
    const algorithm = candidate.algorithm as Algorithm;
    const validate = validators.byAlgorithm[algorithm];
    if (!validate(candidate)) {
      problems.push(...describe(label, validate.errors));
      return;
    }
    const rule = candidate as unknown as Rule;
    problems.push(...crossFieldProblems(label, rule));
    const previous = seen.get(rule.name);
    if (previous !== undefined) problems.push(`${label}: name duplicates rules[${previous}]`);
    seen.set(rule.name, index);
    rules.push(rule);
  });
  if (problems.length) throw new RulesError(problems, source);
  return rules;
}

function crossFieldProblems(label: string, rule: Rule): string[] {
  const problems: string[] = [];
  const quota = quotaOf(rule).limit;
  if (rule.mode === 'local-cache') {
    if (!rule.localCache) problems.push(`${label}: localCache is required when mode is "local-cache"`);
    else if (rule.localCache.share > quota) {
      problems.push(`${label}: localCache.share must be <= the rule's limit (${quota})`);
    }
  } else if (rule.localCache) {
    problems.push(`${label}: localCache is only allowed when mode is "local-cache"`);
  }
  if (rule.algorithm === 'sliding-window-log' && rule.limit > SLIDING_LOG_MAX_LIMIT) {
    problems.push(
      `${label}: limit must be <= ${SLIDING_LOG_MAX_LIMIT} for sliding-window-log (one sorted-set entry per unit)`,
    );
  }
  return problems;
}

function ruleLabel(raw: unknown, index: number): string {
  const name = (raw as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name.length <= 64
    ? `rule ${JSON.stringify(name)} (rules[${index}])`
    : `rules[${index}]`;
}

function describe(label: string, errors: ErrorObject[] | null | undefined): string[] {
  const byField = new Map<string, ErrorObject[]>();
  for (const error of errors ?? []) {
    const path = error.instancePath.split('/').filter(Boolean);
    if (error.keyword === 'required') path.push(String(error.params.missingProperty));
    if (error.keyword === 'additionalProperties') path.push(String(error.params.additionalProperty));
    const field = path.join('.') || '(rule)';
    byField.set(field, [...(byField.get(field) ?? []), error]);
  }
  return [...byField].map(([field, errs]) => {
    const first = errs[0]!;
    if (first.keyword === 'enum') {
      const allowed = (first.params.allowedValues as unknown[]).map((v) => JSON.stringify(v));
      return `${label}: ${field} must be one of ${allowed.join(', ')}`;
    }
    if (first.keyword === 'required') return `${label}: ${field} is required`;
    if (first.keyword === 'additionalProperties') return `${label}: ${field} is not a known field`;
    return `${label}: ${field} ${first.message}`;
  });
}

/** A rule's quota and window, as the RateLimit-Policy header states them (q units per w). */
export function quotaOf(rule: Rule): { limit: number; windowMs: number } {
  if (rule.algorithm === 'token-bucket') {
    // A bucket has no window; the time it takes to refill from empty is the equivalent period.
    return { limit: rule.capacity, windowMs: Math.ceil((rule.capacity / rule.refillPerSec) * 1000) };
  }
  return { limit: rule.limit, windowMs: rule.windowMs };
}
