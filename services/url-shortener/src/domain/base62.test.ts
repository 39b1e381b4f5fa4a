import { describe, expect, it } from 'vitest';
import { CODE_SPACE, decodeBase62, encodeBase62, encodeBase62Fixed } from './base62.ts';

describe('base62', () => {
  it('matches the worked example in the seeds [003:1913-1914]', () => {
    expect(encodeBase62(1234567890)).toBe('1ly7vk');
    expect(decodeBase62('1ly7vk')).toBe(1234567890);
  });

  it('encodes the edges of the 7-character space', () => {
    expect(encodeBase62Fixed(0)).toBe('0000000');
    expect(encodeBase62Fixed(61)).toBe('000000Z');
    expect(encodeBase62Fixed(CODE_SPACE - 1)).toBe('ZZZZZZZ');
    expect(() => encodeBase62Fixed(CODE_SPACE)).toThrow(RangeError);
  });

  it('round-trips every value in a spread sample', () => {
    for (let value = 0; value < CODE_SPACE; value += 9_876_543_211) {
      expect(decodeBase62(encodeBase62Fixed(value))).toBe(value);
    }
    for (let value = 0; value < 10_000; value++) expect(decodeBase62(encodeBase62(value))).toBe(value);
  });

  it('rejects what is not Base62', () => {
    expect(() => decodeBase62('ab-c')).toThrow(RangeError);
    expect(() => decodeBase62('')).toThrow(RangeError);
    expect(() => encodeBase62(-1)).toThrow(RangeError);
    expect(() => encodeBase62(1.5)).toThrow(RangeError);
  });
});
