import { errors as es } from '@elastic/elasticsearch';
import createError from '@fastify/error';
import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
} from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  isRetriable,
  RETRY_DEFAULTS,
  type RetryEvent,
  retry,
  TEST_RETRY_DEFAULTS,
} from './retry.ts';

const withCode = (code: string, message = code) => Object.assign(new Error(message), { code });
const withStatus = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status });

function esResponse(statusCode: number) {
  return new es.ResponseError({
    body: { error: { type: 'es_rejected_execution_exception' }, status: statusCode },
    statusCode,
    headers: {},
    warnings: null,
    meta: {
      context: null,
      name: 'es',
      request: { params: { method: 'POST', path: '/_bulk' }, options: {}, id: 1 },
      connection: null,
      attempts: 0,
      aborted: false,
    },
  });
}

describe('isRetriable', () => {
  it.each([
    ['connection refused', withCode('ECONNREFUSED')],
    ['connection reset', withCode('ECONNRESET')],
    ['socket timeout', withCode('ETIMEDOUT')],
    ['undici connect timeout', withCode('UND_ERR_CONNECT_TIMEOUT')],
    [
      'fetch failed (socket error as cause)',
      new TypeError('fetch failed', { cause: withCode('ECONNRESET') }),
    ],
    ['connect to every address failed', new AggregateError([withCode('ECONNREFUSED')], 'connect failed')],
    ['AbortSignal.timeout()', new DOMException('The operation timed out', 'TimeoutError')],
    ['HTTP 429', withStatus(429)],
    ['HTTP 502', withStatus(502)],
    ['HTTP 503', withStatus(503)],
    ['HTTP 504', withStatus(504)],
    ['kafkajs connection error', new KafkaJSConnectionError('Connection error: ECONNREFUSED')],
    [
      'kafkajs retriable protocol error',
      new KafkaJSProtocolError({
        message: 'leader not available',
        type: 'LEADER_NOT_AVAILABLE',
        retriable: true,
      } as unknown as Error),
    ],
    [
      "kafkajs' own retries exhausted on a connection error",
      new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection timeout'), {
        retryCount: 5,
        retryTime: 3000,
      }),
    ],
    ['Elasticsearch connection error', new es.ConnectionError('connect ECONNREFUSED')],
    ['Elasticsearch timeout', new es.TimeoutError('Request timed out')],
    ['Elasticsearch: no living connections', new es.NoLivingConnectionsError('none alive', {} as never)],
    ['Elasticsearch 429', esResponse(429)],
    ['Elasticsearch 503', esResponse(503)],
    ['Postgres serialization failure', withCode('40001', 'could not serialize access')],
    ['Postgres deadlock', withCode('40P01', 'deadlock detected')],
    ['Postgres admin shutdown', withCode('57P01', 'terminating connection')],
    ['Postgres connection failure', withCode('08006', 'connection failure')],
    ['pg: connection terminated', new Error('Connection terminated unexpectedly')],
    [
      'pg: a query on a client whose connection failed',
      new Error('Client has encountered a connection error and is not queryable'),
    ],
    ['pg: pool connect timeout', new Error('timeout exceeded when trying to connect')],
    ['an adapter error that says so', Object.assign(new Error('outcome unknown'), { retriable: true })],
  ])('retries %s', (_name, error) => {
    expect(isRetriable(error)).toBe(true);
  });

  const Validation = createError('FST_ERR_VALIDATION', 'body/name must be string', 400);
  it.each([
    ['a validation error', new Validation()],
    ['HTTP 400', withStatus(400)],
    ['HTTP 404', withStatus(404)],
    ['HTTP 409', withStatus(409)],
    ['HTTP 500', withStatus(500)],
    ['Elasticsearch 400', esResponse(400)],
    ['Elasticsearch 409 (version conflict)', esResponse(409)],
    ['Elasticsearch deserialization error', new es.DeserializationError('bad json', 'x')],
    ['Elasticsearch request aborted', new es.RequestAbortedError('aborted')],
    [
      'kafkajs non-retriable protocol error',
      new KafkaJSProtocolError({
        message: 'message too large',
        type: 'MESSAGE_TOO_LARGE',
        retriable: false,
      } as unknown as Error),
    ],
    ['kafkajs non-retriable error', new KafkaJSNonRetriableError('broken')],
    [
      "kafkajs' own retries exhausted on a non-retriable cause",
      new KafkaJSNumberOfRetriesExceeded(new KafkaJSNonRetriableError('broken'), {
        retryCount: 5,
        retryTime: 3000,
      }),
    ],
    ['Postgres unique violation', withCode('23505', 'duplicate key value')],
    ['Postgres check violation', withCode('23514', 'violates check constraint')],
    ['Postgres syntax error', withCode('42601', 'syntax error')],
    ['Postgres statement timeout', withCode('57014', 'canceling statement due to statement timeout')],
    ['a cancellation', new DOMException('This operation was aborted', 'AbortError')],
    ['an adapter error that says no', Object.assign(new Error('declined'), { retriable: false })],
    ['a plain error', new Error('boom')],
    ['a programming error', new TypeError('x is not a function')],
    ['a thrown string', 'ECONNREFUSED'],
    ['undefined', undefined],
  ])('does not retry %s', (_name, error) => {
    expect(isRetriable(error)).toBe(false);
  });
});

describe('backoffDelay', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1000 };

  it('draws below a ceiling that doubles per retry and stops at the cap (full jitter)', () => {
    const ceiling = (n: number) => backoffDelay(n, policy, () => 1);
    expect([1, 2, 3, 4, 5, 6].map(ceiling)).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(200);
  });

  it('stays finite and capped for very long outages', () => {
    expect(backoffDelay(10_000, policy, () => 1)).toBe(1000);
  });

  it('samples uniformly within [0, ceiling]', () => {
    const samples = Array.from({ length: 2000 }, () => backoffDelay(3, policy));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThanOrEqual(400);
    // Full jitter: both halves of the range are used (p of failing ≈ 2^-2000).
    expect(samples.some((s) => s < 200)).toBe(true);
    expect(samples.some((s) => s > 200)).toBe(true);
  });

  it('has production defaults that give up within their elapsed budget', () => {
    const worstCase = Array.from({ length: RETRY_DEFAULTS.maxAttempts - 1 }, (_, i) =>
      backoffDelay(i + 1, RETRY_DEFAULTS, () => 1),
    ).reduce((a, b) => a + b, 0);
    expect(worstCase).toBeLessThan(RETRY_DEFAULTS.maxElapsedMs);
  });
});

describe('retry', () => {
  const transient = () => withCode('ECONNRESET');

  it('returns the first success after transient failures, reporting each wait', async () => {
    const events: RetryEvent[] = [];
    let calls = 0;
    const result = await retry(
      async (attempt) => {
        calls++;
        if (attempt < 3) throw transient();
        return 'ok';
      },
      { ...TEST_RETRY_DEFAULTS, onRetry: (event) => events.push(event) },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(events.map((e) => e.attempt)).toEqual([1, 2]);
    for (const e of events) {
      expect(e.delayMs).toBeGreaterThanOrEqual(0);
      expect(e.delayMs).toBeLessThanOrEqual(TEST_RETRY_DEFAULTS.baseDelayMs * 2 ** (e.attempt - 1));
    }
  });

  it('gives up after maxAttempts with the last error', async () => {
    let calls = 0;
    const events: RetryEvent[] = [];
    const error = await retry(
      async () => {
        calls++;
        throw withCode('ECONNREFUSED', `refused ${calls}`);
      },
      { ...TEST_RETRY_DEFAULTS, maxAttempts: 4, onRetry: (e) => events.push(e) },
    ).catch((e: Error) => e);
    expect(calls).toBe(4);
    expect(events).toHaveLength(3); // no wait after the last attempt
    expect(error).toMatchObject({ code: 'ECONNREFUSED', message: 'refused 4' });
  });

  it('does not retry an error that is not retriable', async () => {
    let calls = 0;
    const events: RetryEvent[] = [];
    const refused = withCode('23505', 'duplicate key value');
    await expect(
      retry(
        async () => {
          calls++;
          throw refused;
        },
        { ...TEST_RETRY_DEFAULTS, onRetry: (e) => events.push(e) },
      ),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
    expect(events).toEqual([]);
  });

  it('takes its own classification when given one', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new Error('flaky');
        },
        { ...TEST_RETRY_DEFAULTS, maxAttempts: 3, isRetriable: () => true },
      ),
    ).rejects.toThrow('flaky');
    expect(calls).toBe(3);
  });

  it('stops once the elapsed budget is spent, however many attempts are left', async () => {
    let calls = 0;
    const started = performance.now();
    await expect(
      retry(
        async () => {
          calls++;
          throw transient();
        },
        { maxAttempts: 10_000, maxElapsedMs: 60, baseDelayMs: 2, maxDelayMs: 5 },
      ),
    ).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(calls).toBeGreaterThan(1);
    expect(calls).toBeLessThan(10_000);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('rejects with the reason when aborted during a wait, without another attempt', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    let calls = 0;
    const started = performance.now();
    const pending = retry(
      async () => {
        calls++;
        throw transient();
      },
      {
        maxAttempts: 100,
        maxElapsedMs: 600_000,
        baseDelayMs: 60_000,
        maxDelayMs: 60_000,
        signal: controller.signal,
        // Abort as soon as the helper starts waiting (a long wait: the abort must cut it short).
        onRetry: () => setImmediate(() => controller.abort(reason)),
      },
    );
    await expect(pending).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(calls).toBeLessThanOrEqual(2);
  });

  it('does not call fn when the signal is already aborted', async () => {
    let calls = 0;
    const reason = new Error('stopped');
    await expect(
      retry(
        async () => {
          calls++;
          return 1;
        },
        { signal: AbortSignal.abort(reason) },
      ),
    ).rejects.toBe(reason);
    expect(calls).toBe(0);
  });
});
