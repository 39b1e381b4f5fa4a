import type { Outcome } from '../decision.ts';

/**
 * An algorithm computed in process memory: the same arithmetic as its Lua script, used where Redis
 * is not (the local fallback while Redis is down). Pure: state in, state out, the clock passed in.
 */
export interface LocalAlgorithm<S> {
  take(state: S | undefined, nowMs: number, cost: number): { outcome: Outcome; state: S };
}
