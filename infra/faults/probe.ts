/**
 * Small helpers for scenario checks: an HTTP call that never hangs and keeps the answer for the
 * failure message, assertions that say what was seen, and SQL against a service's own database.
 */
import pg from 'pg';

export interface Answer {
  status: number;
  headers: Headers;
  /** Parsed JSON when the body is JSON, else the text. */
  body: unknown;
  text: string;
  ms: number;
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  json?: unknown;
  timeoutMs?: number;
}

/** One HTTP request; redirects are not followed (a 302 is an answer here). */
export async function call(url: string, options: CallOptions = {}): Promise<Answer> {
  const started = performance.now();
  const headers: Record<string, string> = { ...options.headers };
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? (options.json === undefined ? 'GET' : 'POST'),
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new Error(`${options.method ?? 'GET'} ${url}: no answer (${reason})`);
  }
  const text = await response.text();
  let body: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try {
      body = JSON.parse(text);
    } catch {
      // the text stays the body
    }
  }
  return { status: response.status, headers: response.headers, body, text, ms: performance.now() - started };
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Throws unless the answer has (one of) the expected status(es), quoting what came back. */
export function expectStatus(answer: Answer, expected: number | number[], what: string): void {
  const list = Array.isArray(expected) ? expected : [expected];
  if (!list.includes(answer.status)) {
    throw new Error(
      `${what}: expected ${list.join(' or ')}, got ${answer.status} ${answer.text.slice(0, 300)}`,
    );
  }
}

/** A coded problem+json: the status, the content type and the code. */
export function expectProblem(answer: Answer, status: number, code: string | RegExp, what: string): void {
  expectStatus(answer, status, what);
  const type = answer.headers.get('content-type') ?? '';
  assert(type.startsWith('application/problem+json'), `${what}: content-type ${type}, not problem+json`);
  const actual = (answer.body as { code?: string }).code ?? '';
  const ok = typeof code === 'string' ? actual === code : code.test(actual);
  assert(ok, `${what}: problem code ${actual || '(none)'}, expected ${code}`);
}

/** Rows of one query against a database URL (a short-lived client: the server may just have restarted). */
export async function query<T extends Record<string, unknown>>(
  databaseUrl: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs fn for each item with at most `limit` in flight. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!, i);
      }
    }),
  );
  return results;
}
