import { describe, expect, it } from 'vitest';
import { booleanArrayLiteral, integerArrayLiteral, textArrayLiteral } from './pg-array-literal.ts';

describe('Postgres array literals', () => {
  it('quotes every text element and escapes quotes and backslashes', () => {
    expect(textArrayLiteral(['a', 'NULL', 'x"y', 'b\\c', ''])).toBe('{"a","NULL","x\\"y","b\\\\c",""}');
    expect(textArrayLiteral([])).toBe('{}');
  });

  it('writes integers in full and refuses what is not a safe integer', () => {
    expect(integerArrayLiteral([0, 1767268800123, -3])).toBe('{0,1767268800123,-3}');
    expect(() => integerArrayLiteral([1.5])).toThrow(RangeError);
    expect(() => integerArrayLiteral([Number.NaN])).toThrow(RangeError);
  });

  it('writes booleans as t/f', () => {
    expect(booleanArrayLiteral([true, false])).toBe('{t,f}');
  });
});
