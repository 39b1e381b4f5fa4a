import { describe, expect, it } from 'vitest';
import { signWebhook as sign, verifyWebhook as verify } from './webhook-signature.ts';

describe('webhook signature', () => {
  const secret = 'a-secret-of-some-length';
  const body = '{"id":"evt_1"}';

  it('verifies what it signed', () => {
    expect(verify(secret, body, sign(secret, body, 1000), 300, 1010)).toBe(true);
  });

  it('refuses another body, another secret, an old timestamp and garbage', () => {
    const header = sign(secret, body, 1000);
    expect(verify(secret, '{"id":"evt_2"}', header, 300, 1000)).toBe(false);
    expect(verify('another-secret-entirely', body, header, 300, 1000)).toBe(false);
    expect(verify(secret, body, header, 300, 1301)).toBe(false);
    expect(verify(secret, body, 't=1000,v1=zz', 300, 1000)).toBe(false);
    expect(verify(secret, body, undefined)).toBe(false);
  });
});
