import { principalOf } from '@sdlab/service-kit/auth';
import type { FastifyRequest } from 'fastify';

/**
 * The user a request acts for: the subject of the access token the route's `requireToken`
 * verified. Read in one place, so the routes and the rate limit agree on it.
 */
export function userIdOf(request: FastifyRequest): string {
  return principalOf(request).subject;
}
