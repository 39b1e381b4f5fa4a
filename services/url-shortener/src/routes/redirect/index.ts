import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { trace } from '@opentelemetry/api';
import { telemetryStarted, traceContextCarrier } from '@sdlab/service-kit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { connectionVisitorId } from '../../domain/clicks.ts';
import type { CachedLink } from '../../domain/links-repository.ts';
import { ShortenerErrors } from '../../errors.ts';
import { CodeParams, ProblemSchema } from '../../schemas/common.ts';
import { Attr } from '../../telemetry.ts';

/**
 * GET /:code → 302. A 302 rather than a 301: browsers and proxies cache a 301 for good, so repeat
 * clicks would never reach us and never be counted [002:148]; `no-store` keeps them from caching
 * this one either. Static routes (/healthz, /docs, /api/...) win over this parametric one, and
 * aliases may not take their names.
 */
export const redirectRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { cache } = app.shortener;
  const tracing = telemetryStarted();

  app.get(
    '/:code',
    {
      schema: {
        tags: ['redirect'],
        summary: 'Redirect to the long URL (302) and count the click',
        params: CodeParams,
        response: {
          302: Type.Null({ description: 'Location: the long URL' }),
          400: ProblemSchema,
          404: ProblemSchema,
          410: ProblemSchema,
          503: ProblemSchema,
        },
      },
    },
    (request, reply) => {
      const { code } = request.params;
      // Only a traced request has a recording span; the others skip the attributes and the carrier
      // (a caller that chose not to sample still gives a span, not recording, that nothing links to).
      // Without a tracer provider there is no span to ask for.
      const span = tracing ? trace.getActiveSpan() : undefined;
      const traced = span?.isRecording() === true;
      if (traced) span!.setAttribute(Attr.code, code);
      // A cached code answers synchronously: no promise, no await, the 302 is written in the turn
      // that parsed the request, as a bare handler's is. Only an LRU miss waits for Redis/Postgres.
      const local = cache.local(code);
      if (local === undefined) return redirectAfterLookup(code, request, reply, traced);
      if (traced) span!.setAttribute(Attr.cacheLayer, 'lru');
      redirect(code, local, request, reply, traced);
    },
  );
};

type RedirectRequest = FastifyRequest<{ Params: Static<typeof CodeParams> }>;

/** An LRU miss: Redis, then Postgres (one load per code per instance), then the same answer. */
async function redirectAfterLookup(
  code: string,
  request: RedirectRequest,
  reply: FastifyReply,
  traced: boolean,
): Promise<void> {
  const { link } = await request.server.shortener.cache.lookup(code);
  redirect(code, link, request, reply, traced);
}

/** 404 for an unknown code, 410 for an expired link; otherwise the click is published and the 302 sent. */
function redirect(
  code: string,
  link: CachedLink | null,
  request: RedirectRequest,
  reply: FastifyReply,
  traced: boolean,
): void {
  if (!link) throw new ShortenerErrors.LinkNotFound(code);
  const now = Date.now();
  if (link.expiresAt !== null && link.expiresAt <= now) throw new ShortenerErrors.LinkExpired(code);
  const carrier = traced ? traceContextCarrier() : undefined;
  // Arguments, not an event object: the publisher keeps a click as two numbers in its link's columns.
  request.server.shortener.clicks.publish(
    code,
    now,
    connectionVisitorId(request.raw.socket, request.ip, request.headers['user-agent']),
    carrier?.traceparent ? carrier : undefined,
  );
  reply.header('cache-control', 'private, no-store').redirect(link.url, 302);
}
