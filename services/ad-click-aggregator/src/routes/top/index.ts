import type { App } from '@sdlab/service-kit';
import { BEARER_SECURITY, type JwtVerifier, requireToken } from '@sdlab/service-kit/auth';
import { isPostgresUnavailable } from '@sdlab/service-kit/postgres';
import { floorTo, type Granularity } from '../../domain/granularity.ts';
import { STATS_SCOPES } from '../../domain/scopes.ts';
import { AdClickErrors } from '../../errors.ts';
import { ProblemSchema } from '../../schemas/common.ts';
import { TopQuery, TopSchema } from '../../schemas/top.ts';

export default async function topRoutes(app: App, opts: { verifier: JwtVerifier }) {
  app.get(
    '/top',
    {
      preHandler: requireToken(opts.verifier, { anyScope: STATS_SCOPES }),
      schema: {
        security: BEARER_SECURITY,
        tags: ['queries'],
        summary: 'The K most clicked ads of one window',
        querystring: TopQuery,
        response: {
          200: TopSchema,
          400: ProblemSchema,
          401: ProblemSchema,
          403: ProblemSchema,
          503: ProblemSchema,
        },
      },
    },
    async (request) => {
      const g = (request.query.granularity ?? 'minute') as Granularity;
      const windowStart = floorTo(Date.parse(request.query.window), g);
      const result = await app.topK
        .top(g, windowStart, request.query.k ?? 10, request.query.source ?? 'auto')
        .catch((error: unknown) => {
          throw isPostgresUnavailable(error)
            ? new AdClickErrors.StoreUnavailable('postgres', { cause: error })
            : error;
        });
      return { granularity: g, windowStart: new Date(windowStart).toISOString(), ...result };
    },
  );
}
