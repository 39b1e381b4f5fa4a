import { createHash } from 'node:crypto';
import { CODE_SPACE, decodeBase62, encodeBase62Fixed } from './base62.ts';

// A counter makes codes unique without a lookup, but Base62 of 1000, 1001, 1002 ... tells anyone
// the next code and how many links exist ("Sequential nature may reveal business metrics",
// "Predictable" [003:1960-1962]). A keyed permutation of [0, 62^7) keeps the uniqueness (it is a
// bijection: distinct counters give distinct codes) and hides the order.
//
// Shape: a balanced Feistel network on 42 bits (2^42 ≥ 62^7) made to fit 62^7 by cycle-walking —
// apply the permutation again while the result is ≥ 62^7. Each step is a bijection on 2^42 and the
// walk only leaves a value inside the domain, so the composite is a bijection on [0, 62^7);
// expected steps ≈ 2^42 / 62^7 ≈ 1.25. This is obfuscation, not encryption: the round function is
// a fast integer mix, not a keyed PRF, and the key is only "secret-ish" configuration.
// The key must never change once codes exist: another key is another permutation, whose outputs
// may collide with codes the old one already issued.

const HALF_BITS = 21;
const HALF = 2 ** HALF_BITS;
const MASK = HALF - 1;
const ROUNDS = 6;

/** murmur3's 32-bit finaliser: every input bit flips about half the output bits. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class CodeScrambler {
  readonly #keys: number[];

  constructor(secret: string) {
    if (secret.length < 8) throw new RangeError('scramble key must be at least 8 characters');
    const digest = createHash('sha256').update(secret).digest();
    this.#keys = Array.from({ length: ROUNDS }, (_, i) => digest.readUInt32BE((i * 4) % 32));
  }

  /** The code for a counter value: unique per counter, not guessable from its neighbours. */
  codeFor(counter: number): string {
    return encodeBase62Fixed(this.scramble(counter));
  }

  /** The counter a generated code came from (for debugging and the bijection tests). */
  counterOf(code: string): number {
    return this.unscramble(decodeBase62(code));
  }

  scramble(value: number): number {
    assertInDomain(value);
    let out = this.#permute(value);
    while (out >= CODE_SPACE) out = this.#permute(out);
    return out;
  }

  unscramble(value: number): number {
    assertInDomain(value);
    let out = this.#invert(value);
    while (out >= CODE_SPACE) out = this.#invert(out);
    return out;
  }

  #round(half: number, round: number): number {
    return fmix32(Math.imul(half, 0x9e3779b1) ^ this.#keys[round]!) & MASK;
  }

  // 42-bit values exceed 32-bit bitwise operators, so the halves are split arithmetically.
  #permute(value: number): number {
    let left = Math.floor(value / HALF);
    let right = value % HALF;
    for (let round = 0; round < ROUNDS; round++) {
      const next = (left ^ this.#round(right, round)) >>> 0;
      left = right;
      right = next;
    }
    return left * HALF + right;
  }

  #invert(value: number): number {
    let left = Math.floor(value / HALF);
    let right = value % HALF;
    for (let round = ROUNDS - 1; round >= 0; round--) {
      const previous = (right ^ this.#round(left, round)) >>> 0;
      right = left;
      left = previous;
    }
    return left * HALF + right;
  }
}

function assertInDomain(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value >= CODE_SPACE) {
    throw new RangeError(`${value} is outside the code space [0, 62^7)`);
  }
}
