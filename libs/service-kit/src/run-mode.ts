import type { TObject } from 'typebox';

/**
 * How a process runs. `production` is NODE_ENV=production (every Dockerfile sets it) unless
 * SDLAB_DEV_MODE=true says otherwise; anything else (a laptop, a test run) is `development`.
 * Compose, `pnpm stack up` and `pnpm load` set SDLAB_DEV_MODE=true explicitly, so the committed
 * development values keep working there and nowhere else.
 */
export type RunMode = 'production' | 'development';

export const DEV_MODE_VARIABLE = 'SDLAB_DEV_MODE';

export function runMode(env: Record<string, string | undefined>): RunMode {
  if (env[DEV_MODE_VARIABLE] === 'true') return 'development';
  return env.NODE_ENV === 'production' ? 'production' : 'development';
}

/** What a service declares so the kit can refuse an unsafe production start. */
export interface ProductionGuard {
  /** Settings whose committed default (the schema's `default`) must never run in production. */
  secrets?: readonly string[];
  /**
   * Development-only switches (booleans): on by default in development, off by default in
   * production, and refused when set on in production.
   */
  devOnly?: readonly string[];
}

/** Defaults the mode decides: every development-only switch is on in development, off otherwise. */
export function modeDefaults(mode: RunMode, guard: ProductionGuard): Record<string, boolean> {
  return Object.fromEntries((guard.devOnly ?? []).map((name) => [name, mode === 'development']));
}

/**
 * Every reason this configuration must not run in production, each naming the variable to set.
 * Empty in development.
 */
export function productionProblems(
  mode: RunMode,
  schema: TObject,
  config: Record<string, unknown>,
  guard: ProductionGuard,
): string[] {
  if (mode !== 'production') return [];
  const problems: string[] = [];
  for (const name of guard.secrets ?? []) {
    const committed = (schema.properties[name] as { default?: unknown } | undefined)?.default;
    if (config[name] === committed) {
      problems.push(
        `${name} is its committed development default: set a secret of your own (NODE_ENV=production; ${DEV_MODE_VARIABLE}=true only for local development)`,
      );
    }
  }
  for (const name of guard.devOnly ?? []) {
    if (config[name] === true) {
      problems.push(
        `${name}=true turns on a development-only endpoint: unset it or set ${name}=false in production`,
      );
    }
  }
  return problems;
}
