import { timingSafeEqual } from 'node:crypto';
import { createVerifier, TokenError } from 'fast-jwt';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type JWTPayload, SignJWT } from 'jose';
import Type from 'typebox';
import { AuthErrors } from './errors.ts';

/**
 * Who a verified token speaks for. `scopes` is the token's space-separated `scope` claim (RFC 8693):
 * `admin` for operator endpoints, a service's own scopes for the rest.
 */
export interface Principal {
  subject: string;
  scopes: ReadonlySet<string>;
  /** When the token stops being valid; long-lived connections close then. */
  expiresAtMs: number;
  claims: JWTPayload;
}

export interface JwtSettings {
  /** HS256 key shared with the issuer; at least 32 bytes. */
  secret: string;
  issuer: string;
  audience: string;
}

/** The committed development key every service shares; `secrets: ['JWT_SECRET']` refuses it in production. */
export const DEV_JWT_SECRET = 'sdlab-development-jwt-secret-not-for-production';
export const DEV_JWT_ISSUER = 'sdlab-dev-identity';

/**
 * The JWT settings a service spreads into its config schema. Every service verifies tokens of
 * one issuer; the audience names the service (or the group of services) a token is meant for.
 */
export function jwtConfig(defaults: { audience: string; issuer?: string; secret?: string }) {
  return {
    /** HS256 key of access tokens (shared with the identity provider). The default is public. */
    JWT_SECRET: Type.String({ default: defaults.secret ?? DEV_JWT_SECRET, minLength: 32, maxLength: 512 }),
    JWT_ISSUER: Type.String({
      default: defaults.issuer ?? DEV_JWT_ISSUER,
      minLength: 1,
      maxLength: 256,
    }),
    JWT_AUDIENCE: Type.String({ default: defaults.audience, minLength: 1, maxLength: 256 }),
  };
}

const SUBJECT = /^[A-Za-z0-9_.:@-]{1,128}$/;
const SCOPE = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Verifies HS256 access tokens: signature, issuer, audience, expiry; nothing else is trusted.
 * fast-jwt checks the HMAC with node:crypto on the calling thread (a few microseconds); jose goes
 * through WebCrypto, whose key import and thread-pool job cost ~20 % of a seat hold's CPU in the
 * booking service's profile (issue 17). Tokens are still signed with jose (JwtIssuer).
 */
export class JwtVerifier {
  readonly #verifiers = new Map<string, (token: string) => JWTPayload>();
  readonly #settings: JwtSettings;

  constructor(settings: JwtSettings) {
    this.#settings = settings;
  }

  /** The principal of a valid token; throws AuthErrors.Unauthenticated (with the reason) otherwise. */
  async verify(token: string, requiredClaims: string[] = []): Promise<Principal> {
    let payload: JWTPayload;
    try {
      payload = this.#verifier(requiredClaims)(token);
    } catch (error) {
      throw new AuthErrors.Unauthenticated(reason(error));
    }
    const subject = payload.sub ?? '';
    if (!SUBJECT.test(subject)) throw new AuthErrors.Unauthenticated('token subject is malformed');
    return { subject, scopes: scopesOf(payload), expiresAtMs: (payload.exp ?? 0) * 1000, claims: payload };
  }

  /** One verifier per set of required claims (callers name a fixed few). */
  #verifier(requiredClaims: string[]): (token: string) => JWTPayload {
    const id = requiredClaims.join(' ');
    let verifier = this.#verifiers.get(id);
    if (!verifier) {
      verifier = createVerifier({
        key: this.#settings.secret,
        algorithms: ['HS256'],
        allowedIss: this.#settings.issuer,
        allowedAud: this.#settings.audience,
        requiredClaims: ['sub', 'exp', ...requiredClaims],
        cache: false,
      }) as (token: string) => JWTPayload;
      this.#verifiers.set(id, verifier);
    }
    return verifier;
  }
}

/** Signs tokens with the same settings: development endpoints and tests; an identity provider in production. */
export class JwtIssuer {
  readonly #key: Uint8Array;
  readonly #settings: JwtSettings;

  constructor(settings: JwtSettings) {
    this.#key = new TextEncoder().encode(settings.secret);
    this.#settings = settings;
  }

  async issue(
    subject: string,
    options: { scopes?: readonly string[]; ttlS?: number; claims?: Record<string, unknown> } = {},
  ): Promise<{ token: string; expiresAt: string }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + (options.ttlS ?? 3600);
    const claims = {
      ...options.claims,
      ...(options.scopes?.length ? { scope: options.scopes.join(' ') } : {}),
    };
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(subject)
      .setIssuer(this.#settings.issuer)
      .setAudience(this.#settings.audience)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(this.#key);
    return { token, expiresAt: new Date(exp * 1000).toISOString() };
  }
}

/**
 * A token signed with the committed development key and issuer: for tests, the fault runner and
 * load tests against services in development mode (production refuses that key).
 */
export async function devToken(audience: string, scopes: readonly string[], subject = 'dev-operator') {
  const issuer = new JwtIssuer({ secret: DEV_JWT_SECRET, issuer: DEV_JWT_ISSUER, audience });
  return (await issuer.issue(subject, { scopes, ttlS: 24 * 3600 })).token;
}

/** The token of an `Authorization: Bearer <token>` header, if it has that shape. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length > 8192) return undefined;
  return header.match(/^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i)?.[1];
}

const principals = new WeakMap<FastifyRequest, Principal>();

/**
 * A preHandler that lets a request through only with a valid bearer token (and the scope, if
 * one is named): 401 problem+json with `WWW-Authenticate: Bearer` without one, 403 without the
 * scope. The route reads the caller with `principalOf(request)`.
 */
export function requireToken(
  verifier: JwtVerifier,
  /** `scope`: that one is required; `anyScope`: one of them is (e.g. `['admin', 'advertiser']`). */
  options: { scope?: string; anyScope?: readonly string[] } = {},
) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const token = bearerToken(request.headers.authorization);
    if (!token) {
      reply.header('www-authenticate', 'Bearer');
      throw new AuthErrors.Unauthenticated('a bearer token is required');
    }
    let principal: Principal;
    try {
      principal = await verifier.verify(token);
    } catch (error) {
      reply.header('www-authenticate', 'Bearer error="invalid_token"');
      throw error;
    }
    if (options.scope && !principal.scopes.has(options.scope)) {
      throw new AuthErrors.Forbidden(options.scope);
    }
    if (options.anyScope && !options.anyScope.some((scope) => principal.scopes.has(scope))) {
      throw new AuthErrors.Forbidden(options.anyScope.join(' or '));
    }
    principals.set(request, principal);
  };
}

/** The principal `requireToken` verified for this request. */
export function principalOf(request: FastifyRequest): Principal {
  const principal = principals.get(request);
  if (!principal) throw new Error('principalOf: the route has no requireToken preHandler');
  return principal;
}

/**
 * The settings of a service whose callers are services (a payment provider, a rate-limit decision
 * API): one shared key, and a development-only switch that also lets calls without a key in.
 * Declare `secrets: ['API_KEY'], devOnly: ['API_KEY_OPTIONAL']` so production refuses both.
 */
export function apiKeyConfig(devKey: string) {
  return {
    /** Callers send `Authorization: Bearer <API_KEY>`. The default is public. */
    API_KEY: Type.String({ default: devKey, minLength: 16, maxLength: 256 }),
    /** Development only: calls without an Authorization header are let in (a wrong key never is). */
    API_KEY_OPTIONAL: Type.Boolean({ default: false }),
  };
}

/**
 * A hook for service-to-service calls with one shared key (`Authorization: Bearer <key>`),
 * compared in constant time. `optional` (development only) lets a call without the header in.
 */
export function requireApiKey(key: string, options: { optional?: boolean } = {}) {
  const expected = Buffer.from(key);
  // A callback hook, not an async one: no promise and no microtask on every call of a hot path.
  return (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void => {
    if (options.optional && request.headers.authorization === undefined) {
      done();
      return;
    }
    const given = Buffer.from(bearerToken(request.headers.authorization) ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      reply.header('www-authenticate', 'Bearer');
      done(new AuthErrors.Unauthenticated('a valid API key is required'));
      return;
    }
    done();
  };
}

/** OpenAPI `security` of a route guarded by requireToken or requireApiKey. */
export const BEARER_SECURITY = [{ bearerAuth: [] }];

function scopesOf(payload: JWTPayload): Set<string> {
  const raw = typeof payload.scope === 'string' ? payload.scope : '';
  return new Set(raw.split(' ').filter((s) => SCOPE.test(s)));
}

function reason(error: unknown): string {
  if (!(error instanceof TokenError)) return 'token is invalid';
  if (error.code === TokenError.codes.expired) return 'token expired';
  if (error.code === TokenError.codes.invalidAlgorithm) return 'token algorithm not allowed';
  if (
    error.code === TokenError.codes.missingRequiredClaim ||
    error.code === TokenError.codes.invalidClaimValue
  )
    return `token claim is invalid: ${error.message}`;
  return 'token is invalid';
}
