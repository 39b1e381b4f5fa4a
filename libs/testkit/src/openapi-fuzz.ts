import { request } from 'node:http';

// A fuzz pass over every operation of a service's OpenAPI document, against the real listening
// server: malformed path and query values, bodies of the wrong shape, oversized and deeply nested
// input, broken headers. What a hostile client can send must never be a 5xx or a dropped
// connection, every refusal must be problem+json, and the service must still be ready afterwards.

interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  queryParams: { name: string; schema: Schema }[];
  body: Schema | undefined;
}

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  enum?: unknown[];
}

interface OpenApiDocument {
  paths: Record<string, Record<string, OperationObject>>;
}

interface OperationObject {
  parameters?: { in: string; name: string; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

export interface FuzzCase {
  operation: string;
  what: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface FuzzFinding {
  case: FuzzCase;
  problem: string;
}

export interface FuzzReport {
  cases: number;
  findings: FuzzFinding[];
}

/** Values that break naive handling of strings, numbers, ids and encodings. */
const HOSTILE_STRINGS = [
  '',
  '\u0000',
  'a\u0000b',
  '%00',
  '%ZZ',
  '..%2F..%2Fetc%2Fpasswd',
  "' OR 1=1 --",
  '1e30',
  '-1',
  '9'.repeat(40),
  'NaN',
  '💥'.repeat(50),
  'x'.repeat(5000),
  '<script>alert(1)</script>',
  '{"$gt":""}',
];

const HOSTILE_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1e30,
  -1e30,
  1.5,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  'a\u0000b',
  'x'.repeat(100_000),
  [],
  [1e30],
  {},
  { nested: { deeper: [null] } },
];

/** The operations of a document: path, method, parameters and the JSON body schema. */
export function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const parameters = op.parameters ?? [];
      operations.push({
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: parameters
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        body: op.requestBody?.content?.['application/json']?.schema,
      });
    }
  }
  return operations;
}

/** Every case for one operation; `headers` are sent with each (e.g. a valid token, to get past auth). */
export function casesOf(op: Operation, headers: Record<string, string>): FuzzCase[] {
  const name = `${op.method} ${op.path}`;
  const cases: FuzzCase[] = [];
  const json = { ...headers, 'content-type': 'application/json' };
  const plausible = Object.fromEntries(op.pathParams.map((p) => [p, 'abc123']));
  const pathWith = (values: Record<string, string>) =>
    op.path.replace(/\{([^}]+)\}/g, (_, p: string) => values[p] ?? 'abc123');
  const validBody = op.body ? JSON.stringify(sample(op.body)) : undefined;
  const add = (what: string, path: string, extra: Partial<FuzzCase> = {}) =>
    cases.push({
      operation: name,
      what,
      method: op.method,
      path,
      headers: op.body ? json : headers,
      ...(op.body ? { body: validBody } : {}),
      ...extra,
    });

  // Path parameters, percent-encoded and raw.
  for (const param of op.pathParams) {
    for (const value of HOSTILE_STRINGS) {
      add(`path ${param}=${preview(value)}`, pathWith({ ...plausible, [param]: encodeURIComponent(value) }));
    }
    for (const raw of ['%', '%ZZ', '%00', '%C0%AF', '%FF%FE', '%ED%A0%80']) {
      add(`raw path ${param}=${raw}`, pathWith({ ...plausible, [param]: raw }));
    }
  }
  const base = pathWith(plausible);
  // Query parameters: each hostile value, repeated, and unknown ones; then an oversized query.
  for (const { name: param } of op.queryParams) {
    for (const value of HOSTILE_STRINGS) {
      add(`query ${param}=${preview(value)}`, `${base}?${param}=${encodeURIComponent(value)}`);
    }
    add(`query ${param} repeated`, `${base}?${param}=1&${param}=2&${param}=3`);
    add(`query ${param} as object`, `${base}?${param}[a]=1&${param}[b]=2`);
    for (const raw of ['%', '%ZZ', '%ED%A0%80', '%FF'])
      add(`raw query ${param}=${raw}`, `${base}?${param}=${raw}`);
  }
  add('query 8 KB', `${base}?q=${'x'.repeat(8000)}`);
  add('query 200 params', `${base}?${Array.from({ length: 200 }, (_, i) => `p${i}=${i}`).join('&')}`);

  // Headers.
  for (const authorization of [
    'Bearer ',
    `Bearer ${'a'.repeat(6000)}`,
    'Basic Zm9vOmJhcg==',
    'Bearer a.b.c',
  ]) {
    add(`authorization ${preview(authorization)}`, base, {
      headers: { ...(op.body ? json : headers), authorization },
    });
  }
  add('accept image/png', base, { headers: { ...(op.body ? json : headers), accept: 'image/png' } });
  add('x-request-id hostile', base, {
    headers: { ...(op.body ? json : headers), 'x-request-id': 'x'.repeat(4000) },
  });

  if (op.body) {
    const bodies: [string, string][] = [
      ['not JSON', '{"unterminated'],
      ['JSON null', 'null'],
      ['JSON array', '[]'],
      ['JSON string', '"text"'],
      ['JSON number', '1e999'],
      ['empty body', ''],
      ['nested arrays 50k deep', `${'['.repeat(50_000)}${']'.repeat(50_000)}`],
      ['nested objects 20k deep', `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`],
      ['2 MB string', JSON.stringify({ x: 'y'.repeat(2_000_000) })],
      ['__proto__ key', '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}'],
      ['duplicate keys', '{"a":1,"a":2}'],
      ['unknown field', JSON.stringify({ ...(sample(op.body) as object), zzUnknown: 1 })],
    ];
    for (const [what, body] of bodies) add(`body ${what}`, base, { body });
    add('body as text/plain', base, {
      body: validBody,
      headers: { ...headers, 'content-type': 'text/plain' },
    });
    add('body as form', base, {
      body: 'a=1&b=2',
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    });
    add('body without content-type', base, { body: validBody, headers });
    add('content-type with odd charset', base, {
      body: validBody,
      headers: { ...headers, 'content-type': 'application/json; charset=utf-7' },
    });
    // Each top-level field replaced by each hostile value.
    const fields = Object.keys(op.body.properties ?? {});
    for (const field of fields) {
      for (const value of HOSTILE_VALUES) {
        add(`body ${field}=${preview(JSON.stringify(value) ?? '')}`, base, {
          body: JSON.stringify({ ...(sample(op.body) as object), [field]: value }),
        });
      }
    }
  }
  return cases;
}

/**
 * Sends every case of every operation and checks each answer: no 5xx, no dropped connection, any
 * 4xx as application/problem+json. Cases run a few at a time.
 */
export async function fuzzOpenApi(options: {
  baseUrl: string;
  document: unknown;
  headers?: Record<string, string>;
  /** Operations to leave out, as `METHOD /path` (e.g. a WebSocket upgrade route). */
  skip?: string[];
  concurrency?: number;
}): Promise<FuzzReport> {
  const operations = operationsOf(options.document as OpenApiDocument).filter(
    (op) => !options.skip?.includes(`${op.method} ${op.path}`),
  );
  const cases = operations.flatMap((op) => casesOf(op, options.headers ?? {}));
  const findings: FuzzFinding[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      const problem = await judge(options.baseUrl, c);
      if (problem) findings.push({ case: c, problem });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  return { cases: cases.length, findings };
}

async function judge(baseUrl: string, c: FuzzCase): Promise<string | undefined> {
  let answer: { status: number; contentType: string; body: string };
  try {
    answer = await send(baseUrl, c);
  } catch (error) {
    return `no answer: ${(error as Error).message}`;
  }
  if (answer.status >= 500) return `${answer.status}: ${answer.body.slice(0, 300)}`;
  if (answer.status >= 400 && !answer.contentType.startsWith('application/problem+json')) {
    return `${answer.status} as ${answer.contentType || 'no content type'}: ${answer.body.slice(0, 200)}`;
  }
  return undefined;
}

function send(baseUrl: string, c: FuzzCase): Promise<{ status: number; contentType: string; body: string }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: c.method,
        path: c.path,
        headers:
          c.body === undefined ? c.headers : { ...c.headers, 'content-length': Buffer.byteLength(c.body) },
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out after 15 s')));
    req.on('error', reject);
    req.end(c.body);
  });
}

/** A value that satisfies the simple parts of a schema: the starting point each case breaks. */
function sample(schema: Schema): unknown {
  if (schema.enum?.length) return schema.enum[0];
  if (schema.anyOf?.length) return sample(schema.anyOf[0]!);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object':
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, sample(v)]));
    case 'array':
      return schema.items ? [sample(schema.items)] : [];
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return 'abc123';
  }
}

function preview(value: string): string {
  const shown = JSON.stringify(value.length > 24 ? `${value.slice(0, 24)}…(${value.length})` : value);
  return shown.slice(1, -1);
}
