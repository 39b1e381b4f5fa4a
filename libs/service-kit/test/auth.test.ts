import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_JWT_SECRET, JwtIssuer } from '../src/auth.ts';
import { buildExample } from './fixtures/example-service.ts';

const settings = { secret: DEV_JWT_SECRET, issuer: 'sdlab-dev-identity', audience: 'kit-example' };
const issuer = new JwtIssuer(settings);
let url: string;
let close: () => Promise<void>;

beforeAll(async () => {
  const { app } = await buildExample({ LOG_LEVEL: 'silent' });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  close = () => app.close();
});
afterAll(() => close());

async function get(path: string, token?: string) {
  const response = await fetch(`${url}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

describe('@sdlab/service-kit/auth on a real server', () => {
  it('401 problem+json with WWW-Authenticate without a token', async () => {
    const response = await get('/me');
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(response.body.code).toBe('SDLAB_AUTH_UNAUTHENTICATED');
  });

  it('accepts a valid token and names its subject', async () => {
    const { token } = await issuer.issue('user-1');
    expect(await get('/me', token)).toMatchObject({ status: 200, body: { subject: 'user-1' } });
  });

  it('refuses a token signed with another key, for another audience or issuer, expired, or unsigned', async () => {
    const otherKey = await new JwtIssuer({ ...settings, secret: 'x'.repeat(40) }).issue('user-1');
    const otherAudience = await new JwtIssuer({ ...settings, audience: 'elsewhere' }).issue('user-1');
    const expired = await issuer.issue('user-1', { ttlS: -10 });
    const otherIssuer = await new JwtIssuer({ ...settings, issuer: 'elsewhere' }).issue('user-1');
    const unsignedHs256 = `${(await issuer.issue('user-1')).token.split('.').slice(0, 2).join('.')}.`;
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(
      JSON.stringify({ sub: 'user-1', iss: settings.issuer, aud: settings.audience, exp: 9_999_999_999 }),
    ).toString('base64url')}.`;
    const hs512 = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject('user-1')
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(settings.secret));
    for (const token of [
      otherKey.token,
      otherAudience.token,
      otherIssuer.token,
      expired.token,
      none,
      unsignedHs256,
      hs512,
      'garbage',
    ]) {
      const response = await get('/me', token);
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('SDLAB_AUTH_UNAUTHENTICATED');
    }
  });

  it('admin routes need the admin scope: 403 without it', async () => {
    const user = await issuer.issue('user-1', { scopes: ['read'] });
    const admin = await issuer.issue('operator', { scopes: ['read', 'admin'] });
    const refused = await get('/admin/ping', user.token);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('SDLAB_AUTH_FORBIDDEN');
    expect(await get('/admin/ping', admin.token)).toMatchObject({ status: 200, body: { admin: 'operator' } });
  });
});
