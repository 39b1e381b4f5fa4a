import { createHmac, timingSafeEqual } from 'node:crypto';

// Webhook signatures in the shape card providers use (Stripe's `t=…,v1=…`): an HMAC-SHA256 of
// `<unix seconds>.<raw body>` with a secret shared with the merchant. The sender (payment-provider)
// and the receiver (ticket-booking) use this one module. The receiver verifies over the raw body,
// in constant time, and refuses timestamps outside the tolerance (a captured request replayed).

export const SIGNATURE_HEADER = 'sdlab-signature';

export function signWebhook(
  secret: string,
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): string {
  const mac = createHmac('sha256', secret).update(`${nowSeconds}.${body}`).digest('hex');
  return `t=${nowSeconds},v1=${mac}`;
}

export function verifyWebhook(
  secret: string,
  body: string,
  header: string | undefined,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  if (!header) return false;
  const parts = new Map(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const given = parts.get('v1');
  if (!Number.isInteger(t) || !given || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  const actual = Buffer.from(given, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
