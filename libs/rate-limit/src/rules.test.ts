import { describe, expect, it } from 'vitest';
import { parseRules, quotaOf, RulesError } from './rules.ts';

function problems(input: unknown): readonly string[] {
  try {
    parseRules(input);
  } catch (error) {
    if (error instanceof RulesError) return error.problems;
    throw error;
  }
  throw new Error('expected a RulesError');
}

describe('parseRules', () => {
  it('accepts each algorithm and fills the defaults', () => {
    const rules = parseRules([
      { name: 'free', algorithm: 'fixed-window', limit: 100, windowMs: 60_000 },
      {
        name: 'bucket',
        algorithm: 'token-bucket',
        capacity: 100,
        refillPerSec: 10,
        failurePolicy: 'fail-open',
      },
      {
        name: 'hot',
        algorithm: 'sliding-window-counter',
        limit: 1000,
        windowMs: 1000,
        mode: 'local-cache',
        localCache: { share: 50, syncMs: 100 },
      },
    ]);
    expect(rules[0]).toMatchObject({ failurePolicy: 'local-fallback', mode: 'exact' });
    expect(quotaOf(rules[1]!)).toEqual({ limit: 100, windowMs: 10_000 });
  });

  it('names the rule and the field of every problem', () => {
    expect(
      problems([
        { name: 'free', algorithm: 'fixed-window', limit: 0, windowMs: 60_000 },
        { name: 'pro', algorithm: 'token-bucket', capacity: 100 },
        { name: 'x', algorithm: 'leaky-bucket' },
        { name: 'y', algorithm: 'fixed-window', limit: 1, windowMs: 1000, failurePolicy: 'retry' },
        { name: 'z', algorithm: 'fixed-window', limit: 1, windowMs: 1000, burst: 3 },
      ]),
    ).toEqual([
      'rule "free" (rules[0]): limit must be >= 1',
      'rule "pro" (rules[1]): refillPerSec is required',
      'rule "x" (rules[2]): algorithm must be one of "token-bucket", "sliding-window-log", "sliding-window-counter", "fixed-window"',
      'rule "y" (rules[3]): failurePolicy must be one of "fail-open", "fail-closed", "local-fallback"',
      'rule "z" (rules[4]): burst is not a known field',
    ]);
  });

  it('checks fields that depend on each other, and duplicate names', () => {
    expect(
      problems([
        { name: 'a', algorithm: 'fixed-window', limit: 10, windowMs: 1000, mode: 'local-cache' },
        {
          name: 'b',
          algorithm: 'fixed-window',
          limit: 10,
          windowMs: 1000,
          mode: 'local-cache',
          localCache: { share: 11, syncMs: 100 },
        },
        { name: 'a', algorithm: 'sliding-window-log', limit: 200_000, windowMs: 1000 },
      ]),
    ).toEqual([
      'rule "a" (rules[0]): localCache is required when mode is "local-cache"',
      'rule "b" (rules[1]): localCache.share must be <= the rule\'s limit (10)',
      'rule "a" (rules[2]): limit must be <= 100000 for sliding-window-log (one sorted-set entry per unit)',
      'rule "a" (rules[2]): name duplicates rules[0]',
    ]);
  });

  it('rejects a name unfit for keys and headers, and a list that is not one', () => {
    expect(problems([{ name: 'Free Tier', algorithm: 'fixed-window', limit: 1, windowMs: 1000 }])).toEqual([
      'rule "Free Tier" (rules[0]): name must match pattern "^[a-z0-9][a-z0-9_-]{0,63}$"',
    ]);
    expect(problems({ free: {} })).toEqual(['rules must be a list']);
  });
});
