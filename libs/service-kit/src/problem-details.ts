import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { KitErrors } from './errors.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** RFC 9457 problem details, plus the error code and the fields that failed validation. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code?: string;
  errors?: { field: string; message: string }[];
  /** Extension members (RFC 9457 §3.2) a coded error adds, e.g. the seats that were taken. */
  [extension: string]: unknown;
}

/**
 * The response schema of every problem the kit renders, for routes to document their 4xx/5xx.
 * Extension members (a validation problem's `errors`, a coded error's problemExtensions, /readyz's
 * `checks`) pass through.
 */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    code: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { additionalProperties: true, description: 'application/problem+json' },
);

interface AjvLikeError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * Renders every error as application/problem+json. Errors carrying an `SDLAB_` code were written
 * for clients, so their message is shown at any status; any other error at 500 or above gets a
 * generic title, and the full error goes to the log with the route and params.
 */
export function registerProblemDetails(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const problem = toProblem(error, request);
    if (problem.status >= 500) {
      request.log.error(
        { err: error, route: request.routeOptions.url, params: request.params },
        'request failed',
      );
    } else {
      request.log.info({ code: problem.code, status: problem.status }, problem.title);
    }
    if (problem.status === 429 || problem.status === 503) {
      const retryAfter = (error as { retryAfterSeconds?: number }).retryAfterSeconds;
      if (retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfter))));
    }
    return sendProblem(reply, problem);
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new KitErrors.NotFound(request.method, request.url.split('?')[0]);
    return sendProblem(reply, toProblem(error, request));
  });
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

export function toProblem(error: FastifyError, request: FastifyRequest): Problem {
  const status =
    error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
  const instance = request.url.split('?')[0];
  if (error.validation) {
    return {
      type: 'urn:sdlab:problem:validation',
      title: 'Request validation failed',
      status: 400,
      detail: error.message,
      instance,
      code: 'SDLAB_VALIDATION',
      errors: (error.validation as AjvLikeError[]).map((e) => validationField(e, error.validationContext)),
    };
  }
  const ours = typeof error.code === 'string' && error.code.startsWith('SDLAB_');
  if (status >= 500 && !ours) {
    return { type: 'about:blank', title: 'Internal Server Error', status, instance };
  }
  return {
    type: ours
      ? `urn:sdlab:problem:${error.code.slice('SDLAB_'.length).toLowerCase().replaceAll('_', '-')}`
      : 'about:blank',
    title: ours ? error.message : httpTitle(status, error.message),
    status,
    detail: error.message,
    instance,
    code: error.code,
    // A coded error may add members of its own (never the standard ones above).
    ...(ours ? extensionsOf(error) : {}),
  };
}

const STANDARD_MEMBERS = new Set(['type', 'title', 'status', 'detail', 'instance', 'code', 'errors']);

function extensionsOf(error: FastifyError): Record<string, unknown> {
  const extensions = (error as { problemExtensions?: unknown }).problemExtensions;
  if (typeof extensions !== 'object' || extensions === null) return {};
  return Object.fromEntries(Object.entries(extensions).filter(([key]) => !STANDARD_MEMBERS.has(key)));
}

function validationField(e: AjvLikeError, context: string | undefined): { field: string; message: string } {
  const path = e.instancePath.split('/').filter(Boolean);
  if (e.keyword === 'required' && typeof e.params.missingProperty === 'string')
    path.push(e.params.missingProperty);
  if (e.keyword === 'additionalProperties' && typeof e.params.additionalProperty === 'string') {
    path.push(e.params.additionalProperty);
  }
  const field = [context ?? 'body', ...path].join('.');
  return { field, message: e.message ?? 'is invalid' };
}

function httpTitle(status: number, fallback: string): string {
  const titles: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    405: 'Method Not Allowed',
    406: 'Not Acceptable',
    409: 'Conflict',
    410: 'Gone',
    413: 'Content Too Large',
    415: 'Unsupported Media Type',
    422: 'Unprocessable Content',
    429: 'Too Many Requests',
  };
  return titles[status] ?? fallback;
}
