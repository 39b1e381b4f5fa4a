import { RateLimitErrors } from '../errors.ts';
import type { Rule } from '../rules.ts';

/** The small negative integers the Lua scripts return instead of a reply; the one place they are read. */
export const ScriptCode = {
  BadArgument: -1,
  CostExceedsLimit: -2,
} as const;

/** Maps a script's negative reply to the library's coded error. */
export function scriptError(code: number, script: string, rule: Rule, cost: number): Error {
  switch (code) {
    case ScriptCode.CostExceedsLimit:
      return new RateLimitErrors.CostExceedsLimit(
        cost,
        rule.name,
        rule.algorithm === 'token-bucket' ? rule.capacity : rule.limit,
      );
    default:
      return new RateLimitErrors.ScriptArgument(`${script} (code ${code})`);
  }
}
