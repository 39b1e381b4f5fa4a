import type { LocalAlgorithm } from './local-algorithm.ts';

export interface SlidingCounterState {
  window: number;
  current: number;
  previous: number;
}

/**
 * Sliding-window counter [004:480]: estimate = previous window's count weighted by how much of it
 * still overlaps the sliding window, plus the current count. Mirrors scripts/slidingCounter-1.lua.
 */
export function slidingWindowCounter(limit: number, windowMs: number): LocalAlgorithm<SlidingCounterState> {
  return {
    take(state, nowMs, cost) {
      const { window, current, previous } = roll(state, Math.floor(nowMs / windowMs));
      const elapsed = (nowMs - window * windowMs) / windowMs;
      const estimate = previous * (1 - elapsed) + current;
      const allowed = estimate + cost <= limit;
      const next = { window, current: allowed ? current + cost : current, previous };
      return {
        outcome: {
          allowed,
          remaining: Math.max(0, Math.floor(limit - estimate - (allowed ? cost : 0))),
          resetMs: resetMs(next, nowMs, windowMs),
          retryAfterMs: allowed ? 0 : retryAfterMs(next, nowMs, windowMs, limit, cost),
        },
        state: next,
      };
    },
  };
}

function roll(state: SlidingCounterState | undefined, window: number): SlidingCounterState {
  if (state?.window === window) return state;
  if (state?.window === window - 1) return { window, current: 0, previous: state.current };
  return { window, current: 0, previous: 0 };
}

/** Until the estimate is back to zero: the current count stops weighing one full window after its end. */
function resetMs(s: SlidingCounterState, nowMs: number, windowMs: number): number {
  if (s.current > 0) return (s.window + 2) * windowMs - nowMs;
  if (s.previous > 0) return (s.window + 1) * windowMs - nowMs;
  return 0;
}

/**
 * The estimate falls linearly as the previous window slides out; solve for the first moment
 * estimate + cost <= limit, in this window or (if the current count alone is too high) the next.
 */
export function retryAfterMs(
  s: SlidingCounterState,
  nowMs: number,
  windowMs: number,
  limit: number,
  cost: number,
): number {
  let at: number;
  if (s.current + cost <= limit && s.previous > 0) {
    const weight = (limit - s.current - cost) / s.previous;
    at = (s.window + 1 - weight) * windowMs;
  } else {
    const weight = (limit - cost) / s.current;
    at = (s.window + 2 - weight) * windowMs;
  }
  return Math.max(1, Math.ceil(at - nowMs));
}
