import { describe, expect, it } from 'vitest';
import { slidingWindowCounter } from './sliding-window-counter.ts';

describe('sliding-window counter (in memory)', () => {
  it('weights the previous window by how much of it still overlaps', () => {
    const counter = slidingWindowCounter(10, 1000);
    const full = counter.take(undefined, 999, 10).state; // window 0 full at its very end
    // At 1250 the previous window still weighs 75%: estimate 7.5, so 2 more fit, not 10.
    const a = counter.take(full, 1250, 2);
    expect(a.outcome).toMatchObject({ allowed: true, remaining: 0 });
    const b = counter.take(a.state, 1250, 1);
    expect(b.outcome.allowed).toBe(false);
    // estimate 0.75*10 + 2 = 9.5; one more fits once the previous weighs <= 7 -> at 1300.
    expect(b.outcome.retryAfterMs).toBe(50);
    expect(counter.take(a.state, 1300, 1).outcome.allowed).toBe(true);
  });

  it('has no boundary burst: the limit just before an edge blocks most of it just after', () => {
    const counter = slidingWindowCounter(10, 1000);
    const state = counter.take(undefined, 999, 10).state;
    const after = counter.take(state, 1001, 10);
    expect(after.outcome.allowed).toBe(false);
  });

  it('waits into the next window when the current count alone is too high', () => {
    const counter = slidingWindowCounter(10, 1000);
    const state = counter.take(undefined, 100, 10).state;
    const denied = counter.take(state, 200, 4);
    // Next window: estimate = 10 * (1 - f) + 4 <= 10 when f >= 0.4 -> at 1400.
    expect(denied.outcome).toMatchObject({ allowed: false, retryAfterMs: 1200, resetMs: 1800 });
  });

  it('forgets a window two windows back', () => {
    const counter = slidingWindowCounter(10, 1000);
    const state = counter.take(undefined, 500, 10).state;
    expect(counter.take(state, 2000, 10).outcome.allowed).toBe(true);
  });
});
