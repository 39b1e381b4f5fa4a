import createError from '@fastify/error';
import { createUnavailableError } from '@sdlab/service-kit';
import { isPostgresUnavailable } from '@sdlab/service-kit/postgres';

// The service's coded errors; the kit renders each as problem+json with its code and status.
export const ShortenerErrors = {
  InvalidUrl: createError('SDLAB_SHORTENER_INVALID_URL', 'url: %s', 400),
  AliasReserved: createError('SDLAB_SHORTENER_ALIAS_RESERVED', 'alias: "%s" is reserved', 400),
  ExpiryInPast: createError('SDLAB_SHORTENER_EXPIRY_IN_PAST', 'expiresAt: must be in the future', 400),
  AliasTaken: createError('SDLAB_SHORTENER_ALIAS_TAKEN', 'alias: "%s" is already taken', 409),
  IdempotencyKeyReused: createError(
    'SDLAB_SHORTENER_IDEMPOTENCY_KEY_REUSED',
    'Idempotency-Key was already used with a different request body',
    422,
  ),
  LinkNotFound: createError('SDLAB_SHORTENER_LINK_NOT_FOUND', 'no link with code "%s"', 404),
  LinkExpired: createError('SDLAB_SHORTENER_LINK_EXPIRED', 'the link "%s" has expired', 410),
  StoreUnavailable: createUnavailableError(
    'SDLAB_SHORTENER_STORE_UNAVAILABLE',
    'the link store (%s) is unavailable; nothing was saved, retry shortly',
  ),
  CodeSpaceExhausted: createError('SDLAB_SHORTENER_CODE_SPACE_EXHAUSTED', 'no short codes are left', 503),
  CodeCollisions: createError(
    'SDLAB_SHORTENER_CODE_COLLISIONS',
    'could not find a free code after %d attempts',
    503,
  ),
};

/** "Postgres is down" as the service's 503 (with Retry-After); any other error as it is. */
export function asStoreError(error: unknown): unknown {
  return isPostgresUnavailable(error)
    ? new ShortenerErrors.StoreUnavailable('postgres', { cause: error })
    : error;
}
