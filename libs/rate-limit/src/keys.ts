import type { Algorithm, Rule } from './rules.ts';

/** Builds the Redis key of one subject (user, IP, API key ...) under one rule. */
export interface LimiterKeys {
  key(rule: Rule, subject: string): string;
}

const ALGORITHM_TAG: Record<Algorithm, string> = {
  'token-bucket': 'tb',
  'sliding-window-log': 'swl',
  'sliding-window-counter': 'swc',
  'fixed-window': 'fw',
};

/**
 * `<prefix><algorithm>:{<rule>:<subject>}`, e.g. `rl:tb:{free:user-42}`.
 * - The algorithm is in the name because each keeps a different Redis type (hash, sorted set): a
 *   rule reloaded with another algorithm starts fresh instead of failing with WRONGTYPE.
 * - `{rule:subject}` is a hash tag: everything one subject's check touches hashes to one cluster
 *   slot, so a script given several of them stays legal on Redis Cluster. Today each script needs
 *   one key (the sliding counter keeps both windows in one hash for that reason).
 * - The prefix may not contain braces, or the tag would be taken from it.
 */
export function limiterKeys(prefix: string): LimiterKeys {
  if (/[{}]/.test(prefix)) throw new Error(`rate-limit: key prefix "${prefix}" must not contain { or }`);
  return {
    key: (rule, subject) => `${prefix}${ALGORITHM_TAG[rule.algorithm]}:{${rule.name}:${subject}}`,
  };
}
