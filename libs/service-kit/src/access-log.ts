import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { requestTraceContext } from './server-span.ts';

/**
 * One access-log line per request, at debug level. At info (the stack's level) requests are not
 * logged one by one: http_request_duration_seconds already counts every request by route, method,
 * status and duration, a failed one is logged by the error handler, and two info lines per request
 * cost a fifth of a service's throughput. Probes are never logged.
 */
export function registerAccessLog(app: FastifyInstance): void {
  if (app.log.level !== 'debug' && app.log.level !== 'trace') return;
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    if (route !== '/healthz' && route !== '/readyz' && route !== '/metrics') {
      // The response's finish event runs outside the request's trace: enter it for the trace id.
      context.with(requestTraceContext(request) ?? ROOT_CONTEXT, () =>
        request.log.debug(
          {
            method: request.method,
            url: request.url,
            route,
            statusCode: reply.statusCode,
            responseTime: reply.elapsedTime,
          },
          'request completed',
        ),
      );
    }
    done();
  });
}
