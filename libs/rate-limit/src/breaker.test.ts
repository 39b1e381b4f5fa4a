import { describe, expect, it } from 'vitest';
import { type BreakerState, failureReason, RedisBreaker } from './breaker.ts';

// The state machine alone: each "call" is a function the breaker may or may not run (the Redis
// side is covered on real servers in test/limiter.test.ts and the service's redis-outage test).
const ok = () => Promise.resolve('ok');
const fail = () => Promise.reject(new Error('connection refused'));
const never = () => new Promise<string>(() => undefined);

function outcome(breaker: RedisBreaker, command: () => Promise<string>): Promise<string> {
  return breaker.execute(command).then(
    (value) => value,
    (error: unknown) => failureReason(error),
  );
}

describe('RedisBreaker', () => {
  it('opens after the set number of failures in a row; a success in between starts the count again', async () => {
    const states: BreakerState[] = [];
    const breaker = new RedisBreaker({ failures: 3, halfOpenAfterMs: 60_000 }, (s) => states.push(s));
    expect(await outcome(breaker, fail)).toBe('error');
    expect(await outcome(breaker, fail)).toBe('error');
    expect(await outcome(breaker, ok)).toBe('ok');
    expect(await outcome(breaker, fail)).toBe('error');
    expect(await outcome(breaker, fail)).toBe('error');
    expect(breaker.state).toBe('closed');
    expect(await outcome(breaker, fail)).toBe('error');
    expect(breaker.state).toBe('open');
    // Open: the command is not run at all, and the answer comes before call() returns.
    let ran = false;
    let answered = false;
    breaker.call(
      () => {
        ran = true;
        return ok();
      },
      (error) => {
        answered = failureReason(error) === 'breaker-open';
      },
    );
    expect([ran, answered]).toEqual([false, true]);
    expect(states).toEqual(['open']);
  });

  it('after the open period one trial call decides: its success closes, its failure opens again', async () => {
    const states: BreakerState[] = [];
    const breaker = new RedisBreaker({ failures: 1, halfOpenAfterMs: 50 }, (s) => states.push(s));
    expect(await outcome(breaker, fail)).toBe('error');
    expect(await outcome(breaker, ok)).toBe('breaker-open');
    await new Promise((resolve) => setTimeout(resolve, 80));
    // The trial fails: open again, for another full period.
    expect(await outcome(breaker, fail)).toBe('error');
    expect(await outcome(breaker, ok)).toBe('breaker-open');
    await new Promise((resolve) => setTimeout(resolve, 80));
    // The trial is in flight: a call made meanwhile is answered at once, not run.
    let release: (value: string) => void = () => undefined;
    const trial = outcome(breaker, () => new Promise<string>((resolve) => (release = resolve)));
    expect(breaker.state).toBe('half-open');
    expect(await outcome(breaker, ok)).toBe('breaker-open');
    release('ok');
    expect(await trial).toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(await outcome(breaker, ok)).toBe('ok');
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
  });

  it('a call unanswered past the timeout fails as a timeout and counts; its late answer is reported', async () => {
    let late = 0;
    const breaker = new RedisBreaker(
      { failures: 2, halfOpenAfterMs: 60_000, timeoutMs: 30 },
      undefined,
      () => late++,
    );
    expect(await outcome(breaker, never)).toBe('timeout');
    let answerLate: (value: string) => void = () => undefined;
    expect(await outcome(breaker, () => new Promise<string>((resolve) => (answerLate = resolve)))).toBe(
      'timeout',
    );
    expect(breaker.state).toBe('open');
    answerLate('ok');
    await new Promise((resolve) => setImmediate(resolve));
    expect(late).toBe(1);
  });
});
