import { createHmac, timingSafeEqual } from 'node:crypto';

// Verifies the provider's `Sdlab-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "t.body">`, the way a
// merchant verifies a card provider's webhooks: over the raw body, in constant time, refusing
// timestamps outside the tolerance (a captured request replayed later).

export const SIGNATURE_HEADER = 'sdlab-signature';

export function verifySignature(
  secret: string,
  rawBody: string,
  header: string | undefined,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  if (!header) return false;
  const parts = new Map(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const given = parts.get('v1');
  if (!Number.isInteger(t) || !given || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  const actual = Buffer.from(given, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
