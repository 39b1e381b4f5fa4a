import { DEV_JWT_SECRET, JwtIssuer } from '@sdlab/service-kit/auth';
import { ADMIN_SCOPE } from '../../src/routes/admin/index.ts';

/** Signs access tokens as an identity provider would, with the service's development settings. */
const issuer = new JwtIssuer({
  secret: DEV_JWT_SECRET,
  issuer: 'sdlab-dev-identity',
  audience: 'ticket-booking',
});
/** Headers of an operator: a token with the admin scope. */
export const admin = {
  authorization: `Bearer ${(await issuer.issue('test-admin', { scopes: [ADMIN_SCOPE] })).token}`,
};

/** Headers of a request acting for user `id`: a valid access token for them. */
export async function user(id: string): Promise<{ authorization: string }> {
  return { authorization: `Bearer ${await userToken(id)}` };
}

export async function userToken(id: string): Promise<string> {
  return (await issuer.issue(id)).token;
}
