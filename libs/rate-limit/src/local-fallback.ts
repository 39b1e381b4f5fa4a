import { LRUCache } from 'lru-cache';
import { type LocalAlgorithm, localAlgorithm } from './algorithms/index.ts';
import type { Outcome } from './decision.ts';
import { quotaOf, type Rule } from './rules.ts';

/**
 * The in-memory limiter used while Redis is unreachable ("fallback to in-memory" [002:488]).
 * Each instance enforces the rule alone, with `fallbackLimit` (default: the rule's limit), so N
 * instances together admit up to N x that during an outage: set fallbackLimit = limit / N to keep
 * the fleet-wide figure. State is bounded (LRU per rule) so an outage under a flood of distinct
 * keys cannot grow memory without limit, and it is dropped when Redis is back.
 */
export class LocalFallback {
  readonly #maxKeys: number;
  readonly #byRule = new Map<
    string,
    { rule: Rule; algorithm: LocalAlgorithm<unknown>; states: LRUCache<string, object> }
  >();

  constructor(maxKeysPerRule = 10_000) {
    this.#maxKeys = maxKeysPerRule;
  }

  take(rule: Rule, subject: string, cost: number, nowMs: number): Outcome {
    let slot = this.#byRule.get(rule.name);
    if (!slot || slot.rule !== rule) {
      const limit = rule.fallbackLimit ?? quotaOf(rule).limit;
      slot = { rule, algorithm: localAlgorithm(rule, limit), states: new LRUCache({ max: this.#maxKeys }) };
      this.#byRule.set(rule.name, slot);
    }
    // A cost above the local limit can never pass locally: deny rather than throw, Redis may be back soon.
    const { outcome, state } = slot.algorithm.take(slot.states.get(subject), nowMs, cost);
    slot.states.set(subject, state as object);
    return outcome;
  }

  /** Forget everything: called when Redis answers again, so a later outage starts from a clean slate. */
  clear(): void {
    this.#byRule.clear();
  }

  get size(): number {
    let size = 0;
    for (const slot of this.#byRule.values()) size += slot.states.size;
    return size;
  }
}
