import createError, { type FastifyErrorConstructor } from '@fastify/error';

/** What every "try again shortly" error carries: the kit sends it as the Retry-After header. */
export interface RetryLater {
  retryAfterSeconds: number;
}

/**
 * The one way to say "a dependency is unavailable": a coded 503 that the kit renders as
 * problem+json with Retry-After. A service names the dependency in its own code and message
 * (clients and dashboards key on them); `cause` goes in the last argument, as for every coded
 * error: `throw new ShopErrors.StoreUnavailable('postgres', { cause: error })`.
 */
export function createUnavailableError<C extends string, Args extends unknown[] = [unknown?, unknown?]>(
  code: C,
  message: string,
  retryAfterSeconds = 1,
): FastifyErrorConstructor<{ code: C; statusCode: 503 } & RetryLater, Args> {
  const Unavailable = createError<C, 503, Args>(code, message, 503);
  Object.defineProperty(Unavailable.prototype, 'retryAfterSeconds', { value: retryAfterSeconds });
  return Unavailable as FastifyErrorConstructor<{ code: C; statusCode: 503 } & RetryLater, Args>;
}

/** Coded errors of the kit itself. Each package keeps its own `errors.ts` like this one. */
export const KitErrors = {
  NotFound: createError('SDLAB_KIT_NOT_FOUND', 'No route for %s %s', 404),
  NulCharacter: createError('SDLAB_KIT_NUL_CHARACTER', 'NUL characters (U+0000) are not accepted in %s', 400),
  /** For a dependency that has no coded 503 of its service's own. */
  DependencyUnavailable: createUnavailableError(
    'SDLAB_KIT_DEPENDENCY_UNAVAILABLE',
    '%s is unavailable; try again shortly',
  ),
};

/** Coded errors of `@sdlab/service-kit/auth`. */
export const AuthErrors = {
  Unauthenticated: createError('SDLAB_AUTH_UNAUTHENTICATED', 'Not authenticated: %s', 401),
  Forbidden: createError('SDLAB_AUTH_FORBIDDEN', 'The token lacks the scope %s', 403),
};
