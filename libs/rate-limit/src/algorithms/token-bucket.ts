import type { LocalAlgorithm } from './local-algorithm.ts';

export interface TokenBucketState {
  tokens: number;
  ts: number;
}

/**
 * Token bucket as the seeds describe it [003:451-459]: add (now - last) * rate, cap at capacity,
 * take `cost` if that many are there. Mirrors scripts/tokenBucket-1.lua.
 */
export function tokenBucket(capacity: number, refillPerSec: number): LocalAlgorithm<TokenBucketState> {
  const perMs = refillPerSec / 1000;
  return {
    take(state, nowMs, cost) {
      const last = state?.ts ?? nowMs;
      let tokens = Math.min(capacity, (state?.tokens ?? capacity) + Math.max(0, nowMs - last) * perMs);
      const allowed = tokens >= cost;
      if (allowed) tokens -= cost;
      return {
        outcome: {
          allowed,
          remaining: Math.max(0, Math.floor(tokens)),
          resetMs: Math.ceil((capacity - tokens) / perMs),
          retryAfterMs: allowed ? 0 : Math.ceil((cost - tokens) / perMs),
        },
        state: { tokens, ts: Math.max(nowMs, last) },
      };
    },
  };
}
