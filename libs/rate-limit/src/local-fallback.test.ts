import { describe, expect, it } from 'vitest';
import { LocalFallback } from './local-fallback.ts';
import { parseRules } from './rules.ts';

const [rule, scaled] = parseRules([
  { name: 'free', algorithm: 'fixed-window', limit: 5, windowMs: 1000 },
  { name: 'share', algorithm: 'token-bucket', capacity: 100, refillPerSec: 10, fallbackLimit: 10 },
]);

describe('LocalFallback', () => {
  it('enforces the rule per key in memory', () => {
    const fallback = new LocalFallback();
    const admitted = Array.from({ length: 8 }, () => fallback.take(rule!, 'a', 1, 100)).filter(
      (o) => o.allowed,
    );
    expect(admitted).toHaveLength(5);
    expect(fallback.take(rule!, 'b', 1, 100).allowed).toBe(true);
  });

  it('uses fallbackLimit as the per-instance limit, refilling the share in the same time', () => {
    const fallback = new LocalFallback();
    const admitted = Array.from({ length: 20 }, () => fallback.take(scaled!, 'a', 1, 0)).filter(
      (o) => o.allowed,
    );
    expect(admitted).toHaveLength(10);
    // Full capacity refills in 10 s; the share of 10 refills at 1/s.
    expect(fallback.take(scaled!, 'a', 1, 1000).allowed).toBe(true);
    expect(fallback.take(scaled!, 'a', 1, 1000).allowed).toBe(false);
  });

  it('keeps at most maxKeys keys per rule', () => {
    const fallback = new LocalFallback(3);
    for (const key of ['a', 'b', 'c', 'd', 'e']) fallback.take(rule!, key, 1, 0);
    expect(fallback.size).toBe(3);
  });
});
