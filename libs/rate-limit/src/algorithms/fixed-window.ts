import type { LocalAlgorithm } from './local-algorithm.ts';

export interface FixedWindowState {
  /** Window index: floor(now / windowMs), so every key's windows share edges. */
  window: number;
  count: number;
}

/** Fixed window: count per aligned window, reset at its edge. Mirrors scripts/fixedWindow-1.lua. */
export function fixedWindow(limit: number, windowMs: number): LocalAlgorithm<FixedWindowState> {
  return {
    take(state, nowMs, cost) {
      const window = Math.floor(nowMs / windowMs);
      let count = state?.window === window ? state.count : 0;
      const allowed = count + cost <= limit;
      if (allowed) count += cost;
      const resetMs = (window + 1) * windowMs - nowMs;
      return {
        outcome: {
          allowed,
          remaining: Math.max(0, limit - count),
          resetMs,
          retryAfterMs: allowed ? 0 : resetMs,
        },
        state: { window, count },
      };
    },
  };
}
