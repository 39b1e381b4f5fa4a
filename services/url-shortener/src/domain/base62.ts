// Base62 with the seeds' alphabet (digits, lower, upper) [003:1923-1931]. Codes are fixed-width:
// every generated code is exactly CODE_LENGTH characters, so the code space is [0, 62^7).

export const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const CODE_LENGTH = 7;
/** 62^7 = 3,521,614,606,208 ("7 chars ≈ 3.5T URLs" [002:145]); below 2^53, so plain numbers suffice. */
export const CODE_SPACE = 62 ** CODE_LENGTH;

const INDEX = new Map([...ALPHABET].map((char, i) => [char, i]));

/** Shortest encoding, as the seeds write it: 1234567890 → "1ly7vk" [003:1913-1914]. */
export function encodeBase62(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a non-negative integer: ${value}`);
  if (value === 0) return ALPHABET[0]!;
  let out = '';
  for (let n = value; n > 0; n = Math.floor(n / 62)) out = ALPHABET[n % 62]! + out;
  return out;
}

/** Left-padded to `width`; refuses values that do not fit, so a code never silently grows. */
export function encodeBase62Fixed(value: number, width = CODE_LENGTH): string {
  const code = encodeBase62(value);
  if (code.length > width) throw new RangeError(`${value} does not fit in ${width} Base62 characters`);
  return code.padStart(width, ALPHABET[0]);
}

export function decodeBase62(code: string): number {
  if (code.length === 0) throw new RangeError('empty Base62 string');
  let value = 0;
  for (const char of code) {
    const digit = INDEX.get(char);
    if (digit === undefined) throw new RangeError(`not a Base62 character: ${JSON.stringify(char)}`);
    value = value * 62 + digit;
  }
  if (!Number.isSafeInteger(value)) throw new RangeError(`${code} exceeds the safe integer range`);
  return value;
}
