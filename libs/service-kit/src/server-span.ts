import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { rootWouldSample, telemetryStarted } from './trace-context.ts';

/** Paths probed many times a second by orchestrators and Prometheus; tracing them is noise. */
const UNTRACED_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

const traced = new WeakMap<FastifyRequest, { span: Span; context: Context }>();

/** The trace context of a request the kit traces (for work that runs outside its handler). */
export function requestTraceContext(request: FastifyRequest): Context | undefined {
  return traced.get(request)?.context;
}

/**
 * The one server span of a request, named after its route (`POST /v1/checks`), with the caller's
 * trace continued from `traceparent`. Made only when the request will be sampled: with a sampled
 * caller, or when the rate-limiting root sampler has a token. Any other request costs a header
 * lookup and a token check, nothing more — no span, ids, attributes or context. Its handler runs
 * inside the span's context (entered at onRequest, and again at preHandler, since a body is read
 * from the socket's own events), so Redis, Postgres, Kafka and outgoing HTTP spans hang under it.
 */
export function registerServerSpans(app: FastifyInstance): void {
  if (!telemetryStarted()) return;
  const tracer = trace.getTracer('@sdlab/service-kit');

  app.addHook('onRequest', (request, _reply, done) => {
    // The sampling question first: request.routeOptions builds an object on every read, and most
    // requests under load are not traced. rootWouldSample only looks, it takes no token.
    const hasParent = request.headers.traceparent !== undefined;
    if (!hasParent && !rootWouldSample()) return done();
    const route = request.routeOptions.url;
    if (route !== undefined && UNTRACED_ROUTES.has(route)) return done();
    const parent = hasParent ? propagation.extract(ROOT_CONTEXT, request.headers) : ROOT_CONTEXT;
    const span = tracer.startSpan(
      route ? `${request.method} ${route}` : request.method,
      { kind: SpanKind.SERVER },
      parent,
    );
    if (span.isRecording()) {
      span.setAttributes({
        [ATTR_HTTP_REQUEST_METHOD]: request.method,
        [ATTR_URL_PATH]: request.url.split('?')[0],
        [ATTR_CLIENT_ADDRESS]: request.ip,
        ...(route ? { [ATTR_HTTP_ROUTE]: route } : {}),
        ...(request.headers['user-agent']
          ? { [ATTR_USER_AGENT_ORIGINAL]: request.headers['user-agent'] }
          : {}),
      });
    }
    const active = trace.setSpan(parent, span);
    traced.set(request, { span, context: active });
    context.with(active, done);
  });

  app.addHook('preHandler', (request, _reply, done) => {
    const entry = traced.get(request);
    if (entry) context.with(entry.context, done);
    else done();
  });

  app.addHook('onError', (request, _reply, error, done) => {
    traced.get(request)?.span.recordException(error);
    done();
  });

  app.addHook('onResponse', (request, reply, done) => {
    const entry = traced.get(request);
    if (entry) {
      entry.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, reply.statusCode);
      if (reply.statusCode >= 500) entry.span.setStatus({ code: SpanStatusCode.ERROR });
      entry.span.end();
    }
    done();
  });
}
