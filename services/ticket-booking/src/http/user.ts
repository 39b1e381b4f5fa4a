import type { FastifyRequest } from 'fastify';

/**
 * The user a request acts for. Read in one place, so the routes and the rate limit agree on it.
 * Today the `x-user-id` header the route schemas validate.
 */
export function userIdOf(request: FastifyRequest): string {
  return (request.headers as Record<string, string>)['x-user-id']!;
}
