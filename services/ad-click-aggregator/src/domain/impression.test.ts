import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IMPRESSION_MAX_LENGTH, signImpression, type VerifyResult, verifyImpression } from './impression.ts';

const KEY = 'a-test-key-of-some-length';
const NOW = Date.UTC(2026, 0, 1, 12);
const opts = { now: NOW, maxAgeMs: 86_400_000, maxSkewMs: 300_000 };

describe('impression ids', () => {
  it('round-trips the fields it signs', () => {
    const id = signImpression(KEY, { adId: 'ad_1', campaignId: 'camp-9', issuedAt: NOW - 5000 });
    const result = verifyImpression(KEY, id, opts);
    expect(result).toMatchObject({
      ok: true,
      impression: { id, adId: 'ad_1', campaignId: 'camp-9', issuedAt: NOW - 5000 },
    });
  });

  it('stays within the 100-character path parameter limit at the longest fields', () => {
    const id = signImpression(KEY, {
      adId: 'a'.repeat(24),
      campaignId: 'c'.repeat(24),
      issuedAt: Date.UTC(2999, 0, 1),
      nonce: 'n'.repeat(16),
    });
    expect(id.length).toBeLessThanOrEqual(IMPRESSION_MAX_LENGTH);
    expect(IMPRESSION_MAX_LENGTH).toBeLessThanOrEqual(100);
  });

  it('rejects a changed field, another key and a truncated signature', () => {
    const id = signImpression(KEY, { adId: 'ad_1', campaignId: 'camp', issuedAt: NOW });
    expect(verifyImpression(KEY, id.replace('ad_1', 'ad_2'), opts)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifyImpression('another-key-entirely', id, opts)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifyImpression(KEY, id.slice(0, -1), opts)).toEqual({ ok: false, reason: 'malformed' });
    // Nothing may follow the signature, not even a sixth part.
    for (const suffix of ['x', '.', '.x', '.x.y'])
      expect(verifyImpression(KEY, id + suffix, opts)).toEqual({ ok: false, reason: 'malformed' });
  });

  it.each([
    '',
    'x',
    'a.b.c.d',
    'a.b.c.d.e.f',
    `ad.camp.zz.${'n'.repeat(8)}.${'s'.repeat(23)}`,
    `ad!.camp.zz.${'n'.repeat(8)}.${'s'.repeat(22)}`,
    `ad.camp.ZZ.${'n'.repeat(8)}.${'s'.repeat(22)}`,
    'x'.repeat(500),
  ])('calls %j malformed', (id) => {
    expect(verifyImpression(KEY, id, opts)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses impressions that are too old or from the future', () => {
    const old = signImpression(KEY, { adId: 'ad', campaignId: 'c', issuedAt: NOW - 86_401_000 });
    expect(verifyImpression(KEY, old, opts)).toEqual({ ok: false, reason: 'expired' });
    const future = signImpression(KEY, { adId: 'ad', campaignId: 'c', issuedAt: NOW + 301_000 });
    expect(verifyImpression(KEY, future, opts)).toEqual({ ok: false, reason: 'not_yet_valid' });
  });

  it.each([
    ['adId', 0, 1, 24],
    ['campaignId', 1, 1, 24],
    ['issuedAt', 2, 1, 8],
    ['nonce', 3, 8, 16],
    ['signature', 4, 22, 22],
  ] as const)('holds part %s (index %i) to %i..%i characters', (_name, index, min, max) => {
    const parts = ['ad', 'camp', 'zz', 'n'.repeat(8), 's'.repeat(22)];
    const shapeOf = (length: number) => {
      const changed = [...parts];
      changed[index] = (index === 2 ? 'z' : 'a').repeat(length);
      return verifyImpression(KEY, changed.join('.'), opts);
    };
    expect(shapeOf(min - 1)).toEqual({ ok: false, reason: 'malformed' });
    expect(shapeOf(max + 1)).toEqual({ ok: false, reason: 'malformed' });
    // In range the shape passes and the (made-up) signature is what fails.
    expect(shapeOf(min)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(shapeOf(max)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  // The verifier is written for speed (one pass, a JS HMAC); this is the obvious version of the
  // same rules on node:crypto, and both must agree on every id, valid or not.
  function reference(key: string, id: string): VerifyResult {
    const parts = id.split('.');
    const shapes = [
      /^[A-Za-z0-9_-]{1,24}$/,
      /^[A-Za-z0-9_-]{1,24}$/,
      /^[0-9a-z]{1,8}$/,
      /^[A-Za-z0-9_-]{8,16}$/,
      /^[A-Za-z0-9_-]{22}$/,
    ];
    if (id.length > IMPRESSION_MAX_LENGTH || parts.length !== 5 || parts.some((p, i) => !shapes[i]!.test(p)))
      return { ok: false, reason: 'malformed' };
    const payload = parts.slice(0, 4).join('.');
    const expected = createHmac('sha256', key).update(payload).digest('base64url').slice(0, 22);
    if (expected !== parts[4]) return { ok: false, reason: 'bad_signature' };
    const issuedAt = Number.parseInt(parts[2]!, 36) * 1000;
    if (issuedAt > opts.now + opts.maxSkewMs) return { ok: false, reason: 'not_yet_valid' };
    if (opts.now - issuedAt > opts.maxAgeMs) return { ok: false, reason: 'expired' };
    const [adId, campaignId, , nonce] = parts as [string, string, string, string];
    return { ok: true, impression: { id, adId, campaignId, issuedAt, nonce } };
  }

  it('agrees with a node:crypto HMAC on valid, altered and random ids', () => {
    let seed = 42;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!/é\\u0000';
    const text = (min: number, max: number, chars = alphabet.slice(0, 64)) =>
      Array.from({ length: min + random(max - min + 1) }, () => chars[random(chars.length)]).join('');
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const key = i % 7 === 0 ? 'another-key-entirely' : KEY;
      let id = signImpression(KEY, {
        adId: text(1, 24),
        campaignId: text(1, 24),
        // fresh, older than a day or ahead by more than the skew allowed
        issuedAt: [
          NOW - random(86_000_000),
          NOW - 86_401_000 - random(1_000_000),
          NOW + 301_000 + random(1_000_000),
        ][random(3)]!,
        nonce: text(8, 16),
      });
      const change = random(4);
      if (change === 1) {
        const at = random(id.length);
        id = id.slice(0, at) + alphabet[random(alphabet.length)] + id.slice(at + 1);
      } else if (change === 2) {
        id = random(2) ? id.slice(0, random(id.length)) : id + text(1, 3, alphabet);
      } else if (change === 3) {
        id = text(0, 110, alphabet);
      }
      const result = verifyImpression(key, id, opts);
      expect(result).toEqual(reference(key, id));
      const outcome = result.ok ? 'ok' : result.reason;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    // Every outcome was reached, so the comparison covered each path.
    for (const outcome of ['ok', 'malformed', 'bad_signature', 'expired', 'not_yet_valid'])
      expect(outcomes.get(outcome) ?? 0).toBeGreaterThan(20);
  });

  it('checks every character of the signature', () => {
    const id = signImpression(KEY, { adId: 'ad', campaignId: 'c', issuedAt: NOW });
    const at = id.length - 22;
    for (let i = at; i < id.length; i++) {
      for (const c of ['A', 'f', '_', '-', '9']) {
        if (id[i] === c) continue;
        const altered = id.slice(0, i) + c + id.slice(i + 1);
        expect(verifyImpression(KEY, altered, opts)).toEqual({ ok: false, reason: 'bad_signature' });
      }
    }
  });
});
