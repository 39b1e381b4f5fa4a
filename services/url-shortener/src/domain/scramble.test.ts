import { describe, expect, it } from 'vitest';
import { CODE_SPACE } from './base62.ts';
import { CodeScrambler } from './scramble.ts';

const scrambler = new CodeScrambler('unit-test-key');

describe('counter scramble (keyed bijection on [0, 62^7))', () => {
  it('round-trips counters from the whole domain', () => {
    const samples = [0, 1, 2, 999, 1000, 1001, CODE_SPACE - 2, CODE_SPACE - 1];
    for (let value = 0; value < CODE_SPACE; value += 7_777_777_777) samples.push(value);
    for (const value of samples) {
      const scrambled = scrambler.scramble(value);
      expect(scrambled).toBeGreaterThanOrEqual(0);
      expect(scrambled).toBeLessThan(CODE_SPACE);
      expect(scrambler.unscramble(scrambled)).toBe(value);
    }
  });

  it('gives 1,000,000 consecutive counters 1,000,000 distinct 7-character codes', () => {
    const codes = new Set<string>();
    for (let counter = 0; counter < 1_000_000; counter++) codes.add(scrambler.codeFor(counter));
    expect(codes.size).toBe(1_000_000);
    for (const code of [...codes].slice(0, 1000)) expect(code).toMatch(/^[0-9a-zA-Z]{7}$/);
  });

  it('decodes every code back to the counter it came from, so no two counters share one', () => {
    for (let counter = 5_000_000; counter < 5_020_000; counter++) {
      expect(scrambler.counterOf(scrambler.codeFor(counter))).toBe(counter);
    }
  });

  it('hides the sequence: neighbouring counters share almost no characters in place', () => {
    let samePosition = 0;
    const pairs = 10_000;
    for (let counter = 0; counter < pairs; counter++) {
      const a = scrambler.codeFor(counter);
      const b = scrambler.codeFor(counter + 1);
      for (let i = 0; i < a.length; i++) if (a[i] === b[i]) samePosition++;
    }
    // Independent random codes agree in a position with probability 1/62 (~1.6%).
    expect(samePosition / (pairs * 7)).toBeLessThan(0.03);
  });

  it('depends on the key', () => {
    const other = new CodeScrambler('another-test-key');
    const differing = Array.from({ length: 100 }, (_, i) => i).filter(
      (i) => other.codeFor(i) !== scrambler.codeFor(i),
    );
    expect(differing.length).toBeGreaterThan(95);
  });

  it('refuses values outside the code space and short keys', () => {
    expect(() => scrambler.scramble(CODE_SPACE)).toThrow(RangeError);
    expect(() => scrambler.scramble(-1)).toThrow(RangeError);
    expect(() => new CodeScrambler('short')).toThrow(RangeError);
  });
});
