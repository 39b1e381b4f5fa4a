import { JwtIssuer, JwtVerifier } from '@sdlab/service-kit/auth';

export { bearerToken } from '@sdlab/service-kit/auth';

export interface Identity {
  userId: string;
  deviceId: string;
  /** When the token stops being valid; a socket opened with it is closed then (4001). */
  expiresAtMs: number;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Access tokens: the kit's HS256 JWTs whose subject is the user and whose `dev` claim is the
 * device. In a real deployment an identity provider issues them and the gateway only verifies;
 * in development `POST /tokens` issues them, verified by the same code path.
 */
export class TokenService {
  readonly #issuer: JwtIssuer;
  readonly #verifier: JwtVerifier;
  readonly #ttlS: number;

  constructor(options: { secret: string; issuer: string; audience: string; ttlS: number }) {
    this.#issuer = new JwtIssuer(options);
    this.#verifier = new JwtVerifier(options);
    this.#ttlS = options.ttlS;
  }

  issue(userId: string, deviceId: string): Promise<{ token: string; expiresAt: string }> {
    return this.#issuer.issue(userId, { ttlS: this.#ttlS, claims: { dev: deviceId } });
  }

  /** The identity in a valid token; throws (with a reason fit for the client) otherwise. */
  async verify(token: string): Promise<Identity> {
    const principal = await this.#verifier.verify(token, ['dev']);
    const deviceId = typeof principal.claims.dev === 'string' ? principal.claims.dev : '';
    if (!ID.test(principal.subject) || !ID.test(deviceId)) {
      throw new Error('token subject or device is malformed');
    }
    return { userId: principal.subject, deviceId, expiresAtMs: principal.expiresAtMs };
  }
}
