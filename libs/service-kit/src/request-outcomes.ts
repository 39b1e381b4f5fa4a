import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { nulInUrl } from './hostile-input.ts';
import type { RequestDurations } from './request-durations.ts';
import { requestTraceContext } from './server-span.ts';

/** Probes are counted in the RED metrics but never access-logged; /metrics is neither. */
const UNLOGGED_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The kit's Fastify log controller, and where the kit does its work on every request. Fastify
 * calls `incomingRequest` as a request starts (before the onRequest hooks) and `requestCompleted`
 * once its response has finished (after the onResponse hooks), each as a plain method call. A hook
 * costs a turn of Fastify's hook runner (three closures and a generic call) on every request, and
 * the kit had three (onRequest, onSend, onResponse) where a bare Fastify route has none. Fastify's
 * own request log lines stay off (`disableRequestLogging`).
 */
export class RequestOutcomes extends LogController {
  #durations: RequestDurations | undefined;
  #accessLog = false;
  #noteResponse: ((request: FastifyRequest, reply: FastifyReply) => void) | undefined;

  constructor() {
    super({ requestIdLogLabel: 'request_id', disableRequestLogging: true });
  }

  /** What draining needs to know of each request as it starts (registerDraining). */
  noteResponsesWith(note: (request: FastifyRequest, reply: FastifyReply) => void): void {
    this.#noteResponse = note;
  }

  /**
   * Every request: its id echoed in `x-request-id`, its response noted for draining, and a NUL in
   * its URL (path or query) refused as a 400 problem before any hook or handler sees it. A reply
   * sent here ends the request: Fastify runs no onRequest hook and no handler for a sent reply.
   */
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    reply.header('x-request-id', request.id);
    this.#noteResponse?.(request, reply);
    const nul = nulInUrl(request.url);
    if (nul !== undefined) reply.send(nul);
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
