import { DEV_JWT_SECRET, JwtIssuer } from '@sdlab/service-kit/auth';

const issuer = new JwtIssuer({ secret: DEV_JWT_SECRET, issuer: 'sdlab-dev-identity', audience: 'sdlab-ads' });

/** An Authorization header with a development token of these scopes. */
export async function bearer(
  scopes: string[],
  subject = 'test-operator',
): Promise<{ authorization: string }> {
  return { authorization: `Bearer ${(await issuer.issue(subject, { scopes })).token}` };
}

/** Headers of an operator: may register ads, read stats and run reconciliations. */
export const ADMIN = await bearer(['admin']);
