import { describe, expect, it } from 'vitest';
import { prng } from './seed.ts';

describe('seed prng', () => {
  it('is deterministic per seed and stays in [0, 1)', () => {
    const a = prng(42);
    const b = prng(42);
    const values = Array.from({ length: 1000 }, () => a());
    expect(values).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(prng(43)()).not.toBe(values[0]);
  });
});
