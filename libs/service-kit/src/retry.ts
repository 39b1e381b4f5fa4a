import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';

// One place that says which infra failures are worth another try, and one retry loop that reads
// it (STYLE item 10). p-retry runs the loop: attempt budget, elapsed budget, AbortSignal, and
// never retrying a programming error (a TypeError that is not a network failure). The wait is
// ours: p-retry's `randomize` multiplies the step by 1–2 *before* the cap, so once the cap is
// reached every caller waits exactly `maxTimeout` and an outage's retries arrive in lockstep.
// Full jitter (a uniform draw below the capped step) keeps them spread.

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** No retry starts later than this after the first attempt began (ms). */
  maxElapsedMs: number;
  /** Ceiling of the first wait (ms); it doubles with each retry up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Production: 8 attempts, waits drawn below 0.2, 0.4, 0.8 … 5 s (≤ ~16 s in all), never past 30 s. */
export const RETRY_DEFAULTS: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 8,
  maxElapsedMs: 30_000,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
});

/** Tests: the same loop in milliseconds, so a test that exhausts it stays fast. */
export const TEST_RETRY_DEFAULTS: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 4,
  maxElapsedMs: 2_000,
  baseDelayMs: 1,
  maxDelayMs: 10,
});

export interface RetryEvent {
  error: unknown;
  /** The attempt that just failed (1 = the first call). */
  attempt: number;
  /** How long the helper waits before the next attempt. */
  delayMs: number;
}

export interface RetryOptions extends Partial<RetryPolicy> {
  signal?: AbortSignal | undefined;
  /** Called before each wait (not after the last failure): the place for a log line or a counter. */
  onRetry?: ((event: RetryEvent) => void) | undefined;
  /** Defaults to {@link isRetriable}. */
  isRetriable?: ((error: unknown) => boolean) | undefined;
}

/**
 * The wait before retry number `retryNumber` (1 = the first retry): uniform in
 * [0, min(maxDelayMs, baseDelayMs · 2^(retryNumber-1))].
 */
export function backoffDelay(
  retryNumber: number,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(retryNumber - 1, 30));
  return Math.round(random() * ceiling);
}

/**
 * Calls `fn` until it resolves, the error is not retriable, the attempts or the elapsed budget
 * run out, or `signal` aborts. Rejects with the last error (or the signal's reason).
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const policy: RetryPolicy = {
    maxAttempts: options.maxAttempts ?? RETRY_DEFAULTS.maxAttempts,
    maxElapsedMs: options.maxElapsedMs ?? RETRY_DEFAULTS.maxElapsedMs,
    baseDelayMs: options.baseDelayMs ?? RETRY_DEFAULTS.baseDelayMs,
    maxDelayMs: options.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs,
  };
  const classify = options.isRetriable ?? isRetriable;
  const { signal } = options;
  const started = performance.now();
  return pRetry(fn, {
    retries: Math.max(0, policy.maxAttempts - 1),
    maxRetryTime: policy.maxElapsedMs,
    // p-retry's own wait is off; shouldRetry below waits (it runs only when a retry may follow).
    minTimeout: 0,
    signal,
    shouldRetry: async ({ error, attemptNumber }) => {
      if (!classify(error)) return false;
      const delayMs = backoffDelay(attemptNumber, policy);
      // A retry that could only start past the budget is not worth the wait.
      if (performance.now() - started + delayMs >= policy.maxElapsedMs) return false;
      options.onRetry?.({ error, attempt: attemptNumber, delayMs });
      if (delayMs > 0) {
        try {
          await sleep(delayMs, undefined, { signal });
        } catch (aborted) {
          signal?.throwIfAborted();
          throw aborted;
        }
      }
      return true;
    },
  });
}

// Node's and undici's codes for a connection that was refused, dropped or timed out.
const RETRIABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
]);
/** Too many requests, and a proxy or server that is down or overloaded right now. */
const RETRIABLE_STATUS = new Set([429, 502, 503, 504]);
// SQLSTATE: 08 connection exception, 53300 too many connections, 57P01-57P03 admin/crash shutdown
// and cannot connect now (the server is out of reach); 40001 serialization failure, 40P01 deadlock
// (it answered, and the same transaction may pass next time).
const SQLSTATE = /^[0-9A-Z]{5}$/;
const UNREACHABLE_SQLSTATE = /^(08...|53300|57P0[1-3])$/;
const CONFLICT_SQLSTATE = /^(40001|40P01)$/;
// pg reports a dropped connection or a pool connect timeout without a code, only in the message;
// a query on a client whose connection already failed (the server ended it) says so too.
const PG_CONNECTION_LOST =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;
// @elastic/transport's errors for a request that never got an answer.
const ES_NO_ANSWER = new Set(['ConnectionError', 'TimeoutError', 'NoLivingConnectionsError']);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  retriable?: unknown;
  status?: unknown;
  statusCode?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/**
 * Whether another attempt may succeed: connection refused, reset or timed out; kafkajs errors
 * marked `retriable` (and the connection errors behind kafkajs' own "retries exceeded"); HTTP
 * 429/502/503/504 (an error's `status`/`statusCode`, as Elasticsearch's ResponseError and the
 * kit's coded errors carry); Elasticsearch connection and timeout errors; Postgres connection
 * loss, serialization failures and deadlocks. Validation, other 4xx, constraint violations and
 * anything unknown are not: a retry would fail the same way.
 */
export function isRetriable(error: unknown): boolean {
  return classify(error, 0);
}

function classify(error: unknown, depth: number): boolean {
  if (typeof error !== 'object' || error === null || depth > 8) return false;
  const e = error as ErrorLike;
  // kafkajs gave up its own short retry budget; whether the condition passes is its cause's to say.
  if (e.name === 'KafkaJSNumberOfRetriesExceeded') return classify(e.cause, depth + 1);
  // kafkajs errors, and the project's own adapter errors, state it.
  if (typeof e.retriable === 'boolean') return e.retriable;
  // The caller cancelled: retrying would defeat the point.
  if (e.name === 'AbortError' || e.name === 'RequestAbortedError') return false;
  // Also a DOMException from AbortSignal.timeout(): a timed-out request.
  if (typeof e.name === 'string' && ES_NO_ANSWER.has(e.name)) return true;
  const status = typeof e.statusCode === 'number' ? e.statusCode : e.status;
  if (typeof status === 'number') return RETRIABLE_STATUS.has(status);
  if (typeof e.code === 'string') {
    if (RETRIABLE_CODES.has(e.code)) return true;
    if (SQLSTATE.test(e.code)) return UNREACHABLE_SQLSTATE.test(e.code) || CONFLICT_SQLSTATE.test(e.code);
  }
  if (typeof e.message === 'string' && PG_CONNECTION_LOST.test(e.message)) return true;
  // Node's connect tries every address of a host and reports them together.
  if (Array.isArray(e.errors) && e.errors.some((inner) => classify(inner, depth + 1))) return true;
  // fetch rejects with TypeError('fetch failed') and the socket's error as the cause.
  return classify(e.cause, depth + 1);
}

/**
 * The one test for "Postgres is down": the call failed because the server is out of reach (a
 * refused, dropped or timed-out connection, the pool's connect timeout, SQLSTATE 08, 53300,
 * 57P01-57P03), not because it refused the statement. A service answers the first with its coded
 * 503 and lets anything else surface: a bug stays a logged 500, a conflict keeps its own code.
 */
export function isPostgresUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as ErrorLike;
  if (typeof e.code === 'string') {
    if (RETRIABLE_CODES.has(e.code)) return true;
    if (SQLSTATE.test(e.code)) return UNREACHABLE_SQLSTATE.test(e.code);
  }
  if (typeof e.message === 'string' && PG_CONNECTION_LOST.test(e.message)) return true;
  // Node's connect tries every address of a host and reports them together.
  return Array.isArray(e.errors) && e.errors.some(isPostgresUnavailable);
}
