import { describe, expect, it } from 'vitest';
import { slidingWindowLog } from './sliding-window-log.ts';

describe('sliding-window log (in memory)', () => {
  it('counts exactly the units admitted within the last window', () => {
    const log = slidingWindowLog(3, 1000);
    let state = log.take(undefined, 0, 1).state;
    state = log.take(state, 400, 2).state;
    const denied = log.take(state, 900, 1);
    // The unit from t=0 leaves the window at t=1000.
    expect(denied.outcome).toEqual({ allowed: false, remaining: 0, resetMs: 500, retryAfterMs: 100 });
    expect(log.take(state, 1000, 1).outcome).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('has no boundary burst', () => {
    const log = slidingWindowLog(10, 1000);
    const state = log.take(undefined, 999, 10).state;
    expect(log.take(state, 1001, 1).outcome.allowed).toBe(false);
    expect(log.take(state, 1999, 1).outcome.allowed).toBe(true);
  });

  it('frees enough units for a large cost before admitting it', () => {
    const log = slidingWindowLog(10, 1000);
    let state = log.take(undefined, 0, 4).state;
    state = log.take(state, 300, 6).state;
    const denied = log.take(state, 500, 5);
    expect(denied.outcome.retryAfterMs).toBe(800); // both entries must leave: the later at 1300
  });
});
