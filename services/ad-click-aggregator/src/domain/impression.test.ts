import { describe, expect, it } from 'vitest';
import { IMPRESSION_MAX_LENGTH, signImpression, verifyImpression } from './impression.ts';

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
});
