import { jwtVerify, SignJWT } from 'jose';

export interface Identity {
  userId: string;
  deviceId: string;
  /** When the token stops being valid; a socket opened with it is closed then (4001). */
  expiresAtMs: number;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Access tokens: HS256 JWTs (jose) whose subject is the user and whose `dev` claim is the device.
 * In a real deployment an identity provider issues them and the gateway only verifies; here
 * `POST /tokens` issues them for local use, with the same code path for verification.
 */
export class TokenService {
  readonly #key: Uint8Array;
  readonly #issuer: string;
  readonly #audience: string;
  readonly #ttlS: number;

  constructor(options: { secret: string; issuer: string; audience: string; ttlS: number }) {
    this.#key = new TextEncoder().encode(options.secret);
    this.#issuer = options.issuer;
    this.#audience = options.audience;
    this.#ttlS = options.ttlS;
  }

  async issue(userId: string, deviceId: string): Promise<{ token: string; expiresAt: string }> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ dev: deviceId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(this.#issuer)
      .setAudience(this.#audience)
      .setIssuedAt(now)
      .setExpirationTime(now + this.#ttlS)
      .sign(this.#key);
    return { token, expiresAt: new Date((now + this.#ttlS) * 1000).toISOString() };
  }

  /** The identity in a valid token; throws (with a reason fit for the client) otherwise. */
  async verify(token: string): Promise<Identity> {
    const { payload } = await jwtVerify(token, this.#key, {
      issuer: this.#issuer,
      audience: this.#audience,
      algorithms: ['HS256'],
      requiredClaims: ['sub', 'exp', 'dev'],
    });
    const userId = payload.sub ?? '';
    const deviceId = typeof payload.dev === 'string' ? payload.dev : '';
    if (!ID.test(userId) || !ID.test(deviceId)) throw new Error('token subject or device is malformed');
    return { userId, deviceId, expiresAtMs: (payload.exp ?? 0) * 1000 };
  }
}

/** The token of an `Authorization: Bearer <token>` header, if it has that shape. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i);
  return match?.[1];
}
