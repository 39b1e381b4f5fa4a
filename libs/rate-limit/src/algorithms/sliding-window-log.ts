import type { LocalAlgorithm } from './local-algorithm.ts';

export interface SlidingLogState {
  /** [timestamp, cost] of each admitted request, oldest first. */
  entries: [number, number][];
  count: number;
}

/**
 * Sliding-window log [004:479]: remember every admitted request and count those within the last
 * window. Exact, no boundary burst, memory grows with the limit. Mirrors scripts/slidingLog-1.lua.
 */
export function slidingWindowLog(limit: number, windowMs: number): LocalAlgorithm<SlidingLogState> {
  return {
    take(state, nowMs, cost) {
      const entries = state?.entries ?? [];
      let count = state?.count ?? 0;
      while (entries.length && entries[0]![0] <= nowMs - windowMs) count -= entries.shift()![1];
      const allowed = count + cost <= limit;
      if (allowed && cost > 0) {
        entries.push([nowMs, cost]);
        count += cost;
      }
      const newest = entries.at(-1);
      return {
        outcome: {
          allowed,
          remaining: Math.max(0, limit - count),
          resetMs: newest ? newest[0] + windowMs - nowMs : 0,
          retryAfterMs: allowed ? 0 : untilFreed(entries, count + cost - limit, nowMs, windowMs),
        },
        state: { entries, count },
      };
    },
  };
}

/** When enough of the oldest units have slid out of the window to free `needed` units. */
function untilFreed(entries: [number, number][], needed: number, nowMs: number, windowMs: number): number {
  let freed = 0;
  for (const [ts, cost] of entries) {
    freed += cost;
    if (freed >= needed) return Math.max(1, ts + windowMs - nowMs);
  }
  return windowMs;
}
