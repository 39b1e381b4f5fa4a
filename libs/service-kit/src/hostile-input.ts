import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KitErrors } from './errors.ts';
import { PROBLEM_CONTENT_TYPE, sendProblem } from './problem-details.ts';

// Input no route handler ever sees, answered as problem+json like everything else: URLs the router
// cannot decode or that exceed its limits (Fastify's framework errors), requests Node's HTTP parser
// refuses (oversized headers, garbage), and NUL characters, which no service can store (Postgres
// refuses U+0000 in text) and which otherwise surfaced as a 500 from the database.

/** Fastify's `frameworkErrors` option: a bad URL or an overlong parameter as a coded 4xx problem. */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // A bad URL that also holds a NUL was already answered as the request started (RequestOutcomes).
  if (reply.sent) return;
  const status =
    error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
  sendProblem(reply, {
    type: 'urn:sdlab:problem:bad-request',
    title: 'Malformed request',
    status,
    detail:
      error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the URL is malformed',
    instance: request.url.split('?')[0]?.slice(0, 200),
    code: 'SDLAB_KIT_BAD_REQUEST',
  });
}

/** Fastify's `clientErrorHandler`: what Node's parser refused, as problem+json on the raw socket. */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = JSON.stringify({
    type: 'urn:sdlab:problem:bad-request',
    title: 'Malformed request',
    status,
    detail: status === 431 ? 'request headers are too large' : 'the request could not be parsed',
    code: 'SDLAB_KIT_BAD_REQUEST',
  });
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
      `Connection: close\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

const NUL_IN_URL = /%00/i;

/** The error for a NUL in the URL (path or query), checked as each request starts (RequestOutcomes); else undefined. */
export function nulInUrl(url: string): Error | undefined {
  return NUL_IN_URL.test(url) ? new KitErrors.NulCharacter('the URL') : undefined;
}

/** Methods Fastify never reads a body for. */
const BODYLESS = new Set(['GET', 'HEAD', 'TRACE']);

/**
 * Refuses NUL anywhere in a JSON body: 400, naming where. The check is a preValidation hook of
 * each route that can take a body, added as the route is declared and run before the route's
 * own: an app-wide hook also ran on every GET, a turn of Fastify's hook runner for no body.
 */
export function registerNulBodyGuard(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.every((method) => BODYLESS.has(method))) return;
    const own = route.preValidation;
    route.preValidation = own === undefined ? [nulBodyGuard] : [nulBodyGuard, ...[own].flat()];
  });
}

function nulBodyGuard(request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
  const body = request.body;
  // Most bodies hold no NUL: look without building a path per value, name the place only when found.
  const at = body !== undefined && body !== null && hasNul(body) ? nulPath(body) : undefined;
  done(at === undefined ? undefined : new KitErrors.NulCharacter(`body${at}`));
}

/**
 * Whether any string or key in a parsed JSON value holds a NUL; iterative, allocation-light. Arrays
 * by index and objects by Object.keys (a parsed body has only own data properties): `for...in`
 * over an array made a string per index, and was ~30 % of the rate-limiter's CPU on a batch of 100.
 */
function hasNul(root: unknown): boolean {
  if (typeof root === 'string') return root.includes('\u0000');
  if (typeof root !== 'object' || root === null) return false;
  const stack: object[] = [root];
  const holdsNul = (child: unknown): boolean => {
    if (typeof child === 'string') return child.includes('\u0000');
    if (typeof child === 'object' && child !== null) stack.push(child);
    return false;
  };
  while (stack.length) {
    const value = stack.pop()!;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) if (holdsNul(value[i])) return true;
    } else {
      const keys = Object.keys(value);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        if (key.includes('\u0000') || holdsNul((value as Record<string, unknown>)[key])) return true;
      }
    }
  }
  return false;
}

/** Where the first string (or key) with a NUL is, e.g. `.messages[2].text`; iterative, so depth costs no stack. */
function nulPath(root: unknown): string | undefined {
  if (typeof root === 'string') return root.includes('\u0000') ? '' : undefined;
  if (typeof root !== 'object' || root === null) return undefined;
  const stack: [unknown, string][] = [[root, '']];
  while (stack.length) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return path;
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push([value[i], `${path}[${i}]`]);
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, child] of Object.entries(value)) {
        if (key.includes('\u0000')) return `${path}.${JSON.stringify(key)}`;
        stack.push([child, `${path}.${key}`]);
      }
    }
  }
  return undefined;
}
