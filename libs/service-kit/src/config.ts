import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Type, { type Static, type TObject, type TProperties } from 'typebox';

// ajv-formats is CommonJS with a default export; under nodenext it arrives one level down.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** Settings every service has. A service's own schema is merged over these. */
export const BaseConfig = Type.Object({
  HOST: Type.String({ default: '0.0.0.0', minLength: 1 }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535 }),
  /**
   * Port of the admin listener (/metrics, /docs, probes). Unset: they share PORT, which only
   * development mode allows. 0 picks a free port (tests).
   */
  ADMIN_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  /** Address the admin listener binds to; keep it private (loopback or a cluster-internal network). */
  ADMIN_HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  LOG_LEVEL: Type.Union(
    [
      Type.Literal('fatal'),
      Type.Literal('error'),
      Type.Literal('warn'),
      Type.Literal('info'),
      Type.Literal('debug'),
      Type.Literal('trace'),
      Type.Literal('silent'),
    ],
    { default: 'info' },
  ),
  /** How long in-flight requests get to finish after SIGTERM before the process is forced down. */
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, maximum: 120_000 }),
  /** Largest request body accepted, in bytes. */
  BODY_LIMIT_BYTES: Type.Integer({ default: 1_048_576, minimum: 1024, maximum: 104_857_600 }),
});
export type BaseConfig = Static<typeof BaseConfig>;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(serviceName: string, problems: readonly string[]) {
    super(`${serviceName}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function mergeConfigSchema<P extends TProperties>(own: TObject<P>) {
  return Type.Object({ ...BaseConfig.properties, ...own.properties });
}

/**
 * Reads a service's configuration from the environment, once, at start-up.
 * Strings are coerced to the schema's types and defaults filled in; every bad or missing
 * variable is reported together, so one failed start tells the operator everything to fix.
 */
export function loadConfig<T extends TObject>(
  serviceName: string,
  schema: T,
  env: Record<string, string | undefined>,
  defaults: Record<string, unknown> = {},
): Static<T> {
  const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, removeAdditional: true });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  const data: Record<string, unknown> = { ...defaults };
  for (const key of Object.keys(schema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') data[key] = value;
  }
  if (!validate(data)) {
    throw new ConfigError(serviceName, describeErrors(validate.errors ?? []));
  }
  return data as Static<T>;
}

/** A variable renamed in this release: the old name still works, for one release, with a warning. */
export interface RenamedVariable {
  from: string;
  to: string;
}

/**
 * The environment with each renamed variable read under its new name when only the old one is
 * set, and a warning for every old name still in use (the new name wins when both are set).
 */
export function applyRenamedVariables(
  env: Record<string, string | undefined>,
  renamed: readonly RenamedVariable[],
): { env: Record<string, string | undefined>; warnings: string[] } {
  const out = { ...env };
  const warnings: string[] = [];
  for (const { from, to } of renamed) {
    const old = env[from];
    if (old === undefined || old === '') continue;
    delete out[from];
    if (env[to] === undefined || env[to] === '') {
      out[to] = old;
      warnings.push(`${from} is renamed ${to}; the old name works for one release only`);
    } else {
      warnings.push(`${from} is renamed ${to} and ignored, since ${to} is set`);
    }
  }
  return { env: out, warnings };
}

function describeErrors(errors: ErrorObject[]): string[] {
  const byVariable = new Map<string, ErrorObject[]>();
  for (const error of errors) {
    const variable =
      error.keyword === 'required'
        ? String(error.params.missingProperty)
        : error.instancePath.split('/')[1] || '(root)';
    byVariable.set(variable, [...(byVariable.get(variable) ?? []), error]);
  }
  return [...byVariable].map(([variable, errs]) => {
    // A union of literals reports one `const` error per branch: list them as the allowed values.
    const allowed = errs
      .filter((e) => e.keyword === 'const')
      .map((e) => JSON.stringify(e.params.allowedValue));
    if (allowed.length) return `${variable} must be one of ${allowed.join(', ')}`;
    const first = errs[0]!;
    return first.keyword === 'required'
      ? `${variable} is required but not set`
      : `${variable} ${first.message}`;
  });
}
