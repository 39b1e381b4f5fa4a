import type { Rule } from '../rules.ts';
import { fixedWindow } from './fixed-window.ts';
import type { LocalAlgorithm } from './local-algorithm.ts';
import { slidingWindowCounter } from './sliding-window-counter.ts';
import { slidingWindowLog } from './sliding-window-log.ts';
import { tokenBucket } from './token-bucket.ts';

export type { LocalAlgorithm } from './local-algorithm.ts';

/** The in-memory twin of a rule's algorithm, with its limit scaled to `limit` (a per-instance share). */
export function localAlgorithm(rule: Rule, limit: number): LocalAlgorithm<unknown> {
  switch (rule.algorithm) {
    case 'token-bucket':
      // Scale the refill with the capacity so the share refills in the same time as the whole.
      return tokenBucket(limit, rule.refillPerSec * (limit / rule.capacity)) as LocalAlgorithm<unknown>;
    case 'fixed-window':
      return fixedWindow(limit, rule.windowMs) as LocalAlgorithm<unknown>;
    case 'sliding-window-counter':
      return slidingWindowCounter(limit, rule.windowMs) as LocalAlgorithm<unknown>;
    case 'sliding-window-log':
      return slidingWindowLog(limit, rule.windowMs) as LocalAlgorithm<unknown>;
  }
}
