import { describe, expect, it } from 'vitest';
import { fixedWindow } from './fixed-window.ts';

describe('fixed window (in memory)', () => {
  it('admits the limit per aligned window and resets at the edge', () => {
    const window = fixedWindow(3, 1000);
    let state = window.take(undefined, 1200, 2).state;
    const third = window.take(state, 1500, 1);
    expect(third.outcome).toEqual({ allowed: true, remaining: 0, resetMs: 500, retryAfterMs: 0 });
    state = third.state;
    expect(window.take(state, 1999, 1).outcome).toEqual({
      allowed: false,
      remaining: 0,
      resetMs: 1,
      retryAfterMs: 1,
    });
    expect(window.take(state, 2000, 1).outcome).toMatchObject({ allowed: true, remaining: 2 });
  });

  it('lets 2x the limit through across an edge: the boundary burst', () => {
    const window = fixedWindow(10, 1000);
    let state = window.take(undefined, 999, 10).state;
    const next = window.take(state, 1000, 10);
    state = next.state;
    expect(next.outcome.allowed).toBe(true); // 20 admitted within 2 ms
  });
});
