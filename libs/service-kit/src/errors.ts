import createError from '@fastify/error';

/** Coded errors of the kit itself. Each package keeps its own `errors.ts` like this one. */
export const KitErrors = {
  NotFound: createError('SDLAB_KIT_NOT_FOUND', 'No route for %s %s', 404),
  DependencyUnavailable: createError(
    'SDLAB_KIT_DEPENDENCY_UNAVAILABLE',
    '%s is unavailable; try again shortly',
    503,
  ),
};

/** Coded errors of `@sdlab/service-kit/auth`. */
export const AuthErrors = {
  Unauthenticated: createError('SDLAB_AUTH_UNAUTHENTICATED', 'Not authenticated: %s', 401),
  Forbidden: createError('SDLAB_AUTH_FORBIDDEN', 'The token lacks the scope %s', 403),
};
