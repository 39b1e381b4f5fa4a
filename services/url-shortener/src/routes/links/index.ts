import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { createLinkLimit } from '../../domain/rate-limit.ts';
import { ShortenerErrors } from '../../errors.ts';
import { CodeParams, ProblemSchema } from '../../schemas/common.ts';
import { CreateLinkBody, CreateLinkHeaders, LinkSchema, LinkStatsSchema } from '../../schemas/links.ts';

/** /api/links: create a link, read its stats. */
export const linkRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { creator, links } = app.shortener;

  // '' rather than '/': the route is exactly /api/links (and so is its OpenAPI path).
  app.post(
    '',
    {
      schema: {
        tags: ['links'],
        summary: 'Create a short link',
        headers: CreateLinkHeaders,
        body: CreateLinkBody,
        response: {
          201: LinkSchema,
          400: ProblemSchema,
          409: ProblemSchema,
          422: ProblemSchema,
          429: ProblemSchema,
          503: ProblemSchema,
        },
      },
      config: { rateLimit: createLinkLimit() },
    },
    async (request, reply) => {
      const { link, replayed } = await creator.create(request.body, request.headers['idempotency-key']);
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(201).header('location', link.shortUrl).send(link);
    },
  );

  app.get(
    '/:code/stats',
    {
      schema: {
        tags: ['links'],
        summary: 'Clicks, unique visitors and last click of a link',
        params: CodeParams,
        response: { 200: LinkStatsSchema, 400: ProblemSchema, 404: ProblemSchema, 503: ProblemSchema },
      },
    },
    async (request) => {
      const { code } = request.params;
      const stats = await links.stats(code);
      if (!stats) throw new ShortenerErrors.LinkNotFound(code);
      let uniqueVisitors: number;
      try {
        uniqueVisitors = await app.redis.pfcount(app.keys.visitors(code));
      } catch (error) {
        throw new ShortenerErrors.StoreUnavailable('redis', { cause: error });
      }
      return {
        code,
        totalClicks: stats.totalClicks,
        uniqueVisitors,
        lastClickAt: stats.lastClickAt?.toISOString() ?? null,
      };
    },
  );
};
