import type { App } from '@sdlab/service-kit';
import type { FastifyReply } from 'fastify';
import Type from 'typebox';
import { IMPRESSION_MAX_LENGTH } from '../../domain/impression.ts';
import { ProblemSchema } from '../../schemas/common.ts';

/** The click URL behind every ad: `GET /c/<signed impression id>` → 302 to the advertiser. */
export default async function clickRoutes(app: App) {
  app.get(
    '/c/:impression',
    {
      schema: {
        tags: ['ingest'],
        summary: 'Record a click and redirect to the advertiser',
        description:
          'Verifies the signed impression id, drops a repeat click on the same impression within the dedup window ' +
          '(still redirected), makes the click durable in the local spool, and answers 302. Kafka is reached off ' +
          'the request path, so the redirect does not depend on it.',
        params: Type.Object({
          impression: Type.String({ minLength: 1, maxLength: IMPRESSION_MAX_LENGTH }),
        }),
        response: {
          302: Type.Null({ description: 'Location: the advertiser URL; Cache-Control: no-store' }),
          400: ProblemSchema,
          403: ProblemSchema,
          404: ProblemSchema,
          410: ProblemSchema,
          503: ProblemSchema,
        },
      },
    },
    // Not async itself: click() already returns the promise Fastify waits on (one fewer per click).
    (request, reply) => click(request.params.impression, reply),
  );

  // Fastify answers 414 for a path parameter over 100 characters, before any hook runs; this
  // catch-all receives those (and ids containing '/') so they are refused and counted like any
  // other malformed id.
  app.get(
    '/c/*',
    {
      schema: {
        hide: true,
        params: Type.Object({ '*': Type.String({ maxLength: 2048 }) }),
        response: { 400: ProblemSchema },
      },
    },
    (request, reply) => click(request.params['*'], reply),
  );

  async function click(impression: string, reply: FastifyReply) {
    const { location, outcome } = await app.clickIngest.click(impression);
    // Every click must reach us: no shared or browser cache may replay the redirect.
    reply.header('cache-control', 'no-store');
    reply.header('x-click-outcome', outcome);
    return reply.redirect(location, 302);
  }
}
