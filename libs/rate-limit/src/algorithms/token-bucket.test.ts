import { describe, expect, it } from 'vitest';
import { type TokenBucketState, tokenBucket } from './token-bucket.ts';

describe('token bucket (in memory)', () => {
  it('starts full, spends to empty, then refills at its rate', () => {
    const bucket = tokenBucket(100, 10); // the seeds' example [003:445-448]
    let state: TokenBucketState | undefined;
    let admitted = 0;
    for (let i = 0; i < 150; i += 1) {
      const r = bucket.take(state, 0, 1);
      state = r.state;
      if (r.outcome.allowed) admitted += 1;
    }
    expect(admitted).toBe(100);
    const empty = bucket.take(state, 0, 1);
    expect(empty.outcome).toEqual({ allowed: false, remaining: 0, resetMs: 10_000, retryAfterMs: 100 });
    // 1 s later: 10 tokens back.
    const later = bucket.take(state, 1000, 10);
    expect(later.outcome.allowed).toBe(true);
    expect(later.outcome.remaining).toBe(0);
    expect(bucket.take(later.state, 1000, 1).outcome.allowed).toBe(false);
  });

  it('never holds more than its capacity however long it idles', () => {
    const bucket = tokenBucket(5, 1);
    const first = bucket.take(undefined, 0, 5);
    const idle = bucket.take(first.state, 3_600_000, 0);
    expect(idle.outcome.remaining).toBe(5);
    expect(idle.outcome.resetMs).toBe(0);
  });

  it('charges the cost and says how long until that many tokens are back', () => {
    const bucket = tokenBucket(10, 2);
    const r = bucket.take(undefined, 0, 8);
    expect(r.outcome).toMatchObject({ allowed: true, remaining: 2 });
    const denied = bucket.take(r.state, 0, 5);
    expect(denied.outcome).toMatchObject({ allowed: false, remaining: 2, retryAfterMs: 1500 });
  });
});
