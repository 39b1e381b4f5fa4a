import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { RequestDurations } from './request-durations.ts';
import { requestTraceContext } from './server-span.ts';

/** Probes are counted in the RED metrics but never access-logged; /metrics is neither. */
const UNLOGGED_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The kit's Fastify log controller, and where a finished request is counted. Fastify calls
 * `requestCompleted` once per request when its response has finished (after the onResponse hooks),
 * as a plain method call: the RED histogram and the debug access log are observed here rather than
 * in onResponse hooks, each of which cost a turn of Fastify's hook runner (three closures) on
 * every request. Fastify's own request lines stay off (`disableRequestLogging`).
 */
export class RequestOutcomes extends LogController {
  #durations: RequestDurations | undefined;
  #accessLog = false;

  constructor() {
    super({ requestIdLogLabel: 'request_id', disableRequestLogging: true });
  }

  /** Counts every finished request but /metrics' own in http_request_duration_seconds. */
  countInto(durations: RequestDurations): void {
    this.#durations = durations;
  }

  /**
   * One access-log line per request at debug level (only when the logger is at debug or trace).
   * At info (the stack's level) requests are not logged one by one: http_request_duration_seconds
   * counts every request by route, method, status and duration, a failed one is logged by the
   * error handler, and two info lines per request cost a fifth of a service's throughput.
   */
  logAccess(): void {
    this.#accessLog = true;
  }

  override requestCompleted(
    _error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const route = request.routeOptions.url;
    if (this.#durations !== undefined && route !== '/metrics') {
      this.#durations.observe(
        route ?? 'unmatched',
        request.method,
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
    }
    if (this.#accessLog && (route === undefined || !UNLOGGED_ROUTES.has(route))) {
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
  }
}
