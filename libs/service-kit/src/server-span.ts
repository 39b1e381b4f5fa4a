import { trace } from '@opentelemetry/api';
import { ATTR_HTTP_ROUTE } from '@opentelemetry/semantic-conventions';
import type { FastifyInstance } from 'fastify';
import { telemetryStarted } from './trace-context.ts';

/**
 * Names the HTTP server span after the route (`POST /v1/checks`) and sets http.route, so the one
 * span a request gets reads like the route table. Only when tracing runs; a request the sampler
 * left out has a span that records nothing, and is skipped.
 */
export function registerServerSpanNaming(app: FastifyInstance): void {
  if (!telemetryStarted()) return;
  app.addHook('onRequest', (request, _reply, done) => {
    const span = trace.getActiveSpan();
    const route = request.routeOptions.url;
    if (route && span?.isRecording()) {
      span.updateName(`${request.method} ${route}`);
      span.setAttribute(ATTR_HTTP_ROUTE, route);
    }
    done();
  });
}
