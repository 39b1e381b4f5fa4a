// Development: prints an access token for a user (and the admin scope with --admin), signed
// with this service's JWT settings. A real deployment gets tokens from its identity provider.
//
//   pnpm --filter @sdlab/ticket-booking token alice
//   pnpm --filter @sdlab/ticket-booking token ops --admin
import { loadConfig } from '@sdlab/service-kit';
import { JwtIssuer, jwtConfig } from '@sdlab/service-kit/auth';
import Type from 'typebox';
import { ADMIN_SCOPE } from './routes/admin/index.ts';

const TokenConfig = Type.Object({
  ...jwtConfig({ audience: 'ticket-booking' }),
  TOKEN_TTL_S: Type.Integer({ default: 3600, minimum: 1, maximum: 86_400 }),
});

const [subject, flag] = process.argv.slice(2);
if (!subject) {
  console.error('usage: token <userId> [--admin]');
  process.exit(2);
}
const config = loadConfig('ticket-booking-token', TokenConfig, process.env);
const issuer = new JwtIssuer({
  secret: config.JWT_SECRET,
  issuer: config.JWT_ISSUER,
  audience: config.JWT_AUDIENCE,
});
const { token } = await issuer.issue(subject, {
  scopes: flag === '--admin' ? [ADMIN_SCOPE] : [],
  ttlS: config.TOKEN_TTL_S,
});
console.log(token);
