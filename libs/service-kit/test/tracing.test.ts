import { type LoggedSpan, test } from '@sdlab/testkit';
import { describe, expect, it } from 'vitest';
import { startExample } from './spawn-example.ts';

const isSpan = (line: unknown): line is LoggedSpan =>
  typeof line === 'object' && line !== null && 'span' in line;

// The service runs as a real process started the production way (`--import` before the app),
// with the SDK's real http and Fastify instrumentations; only the exporter writes to stdout.
describe('tracing', () => {
  it('gives a request one span named after its route, and stamps its log line with the trace id', async () => {
    const service = await startExample({ LOG_LEVEL: 'debug' }, { spanLog: true });
    let requestId: string | null = null;
    try {
      const hello = await fetch(`${service.url}/hello/ada`);
      expect(hello.status).toBe(200);
      requestId = hello.headers.get('x-request-id');
      const echo = await fetch(`${service.url}/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'hi', count: 1 }),
      });
      expect(echo.status).toBe(200);
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    } finally {
      service.child.kill('SIGTERM');
    }
    expect(await service.exited).toBe(0);

    const spans = service.lines.filter(isSpan);
    const server = spans.find((s) => s.span === 'GET /hello/:name');
    expect(server, `spans: ${spans.map((s) => s.span).join(', ')}`).toBeDefined();
    expect(server!.attributes['http.route']).toBe('/hello/:name');
    expect(server!.parentSpanId).toBeUndefined();

    // One server span per request: no span per Fastify hook or handler (the route calls nothing).
    const inTrace = spans.filter((s) => s.traceId === server!.traceId);
    expect(inTrace.map((s) => s.span)).toEqual(['GET /hello/:name']);

    // A handler that runs after the body was read (socket events, not the request's) still runs
    // inside the request's span.
    const post = spans.find((s) => s.span === 'POST /echo');
    expect(post, `spans: ${spans.map((s) => s.span).join(', ')}`).toBeDefined();
    const composed = spans.find((s) => s.span === 'echo.compose');
    expect(composed?.parentSpanId).toBe(post!.spanId);
    expect(composed?.traceId).toBe(post!.traceId);
    expect(spans.some((s) => s.span.includes('healthz'))).toBe(false);

    const logs = service.lines.filter(
      (l): l is { msg: string; trace_id?: string; request_id?: string; res?: unknown } =>
        typeof l === 'object' && l !== null && 'msg' in l,
    );
    const completed = logs.find((l) => l.msg === 'request completed' && l.trace_id === server!.traceId);
    expect(completed, 'the access-log line (debug) carries the trace id').toBeDefined();
    // The request's logger is made on its first line (request-logger.ts), with the request's id.
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(completed!.request_id).toBe(requestId);
  });

  test('keeps each Redis command in the trace of the request that sent it, with auto-pipelining', async ({
    redis,
  }) => {
    // Concurrent requests share one pipelined write to Redis; each GET's span still belongs to
    // its own request (ioredis sends the pipeline later, from the first request's context).
    const service = await startExample(
      { EXAMPLE_REDIS_URL: redis.url, OTEL_TRACES_SAMPLER: 'always_on' },
      { spanLog: true },
    );
    const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
    try {
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all(keys.map((key) => fetch(`${service.url}/redis/${key}`)));
        expect(answers.map((a) => a.status)).toEqual(keys.map(() => 200));
      }
    } finally {
      service.child.kill('SIGTERM');
    }
    expect(await service.exited).toBe(0);

    const spans = service.lines.filter(isSpan);
    const requests = spans.filter((s) => s.span === 'GET /redis/:key');
    expect(requests).toHaveLength(keys.length * 3);
    const commands = spans.filter((s) => s.span === 'get');
    expect(commands).toHaveLength(keys.length * 3);
    for (const command of commands) {
      const statement = String(command.attributes['db.statement'] ?? command.attributes['db.query.text']);
      const request = requests.find((r) => r.spanId === command.parentSpanId);
      expect(request, `the parent of "${statement}" is a request span`).toBeDefined();
      expect(request!.traceId).toBe(command.traceId);
      expect(statement).toContain(`kit-example:${String(request!.attributes['url.path']).split('/').pop()}`);
    }
  });

  test('sends an explicit pipeline as one span under a sampled request, and as none under an unsampled one', async ({
    redis,
  }) => {
    const service = await startExample(
      { EXAMPLE_REDIS_URL: redis.url, OTEL_TRACES_SAMPLER: 'parentbased_always_on' },
      { spanLog: true },
    );
    const unsampledTrace = 'a1'.repeat(16);
    try {
      const sampled = await fetch(`${service.url}/redis-pipeline/20`);
      expect(await sampled.json()).toEqual({ replies: 20 });
      // A caller that did not sample: its trace stays unsampled, and nothing of it is exported.
      const unsampled = await fetch(`${service.url}/redis-pipeline/5`, {
        headers: { traceparent: `00-${unsampledTrace}-${'b2'.repeat(8)}-00` },
      });
      expect(await unsampled.json()).toEqual({ replies: 5 });
    } finally {
      service.child.kill('SIGTERM');
    }
    expect(await service.exited).toBe(0);

    const spans = service.lines.filter(isSpan);
    const request = spans.find((s) => s.span === 'GET /redis-pipeline/:count');
    expect(request, `spans: ${spans.map((s) => s.span).join(', ')}`).toBeDefined();
    const inTrace = spans.filter((s) => s.traceId === request!.traceId);
    // One client span for the round trip, none per GET in it.
    expect(inTrace.map((s) => s.span).sort()).toEqual(['GET /redis-pipeline/:count', 'redis read-keys']);
    const pipeline = inTrace.find((s) => s.span === 'redis read-keys')!;
    expect(pipeline.parentSpanId).toBe(request!.spanId);
    expect(pipeline.attributes).toMatchObject({
      'db.system.name': 'redis',
      'db.operation.name': 'PIPELINE',
      'db.operation.batch.size': 20,
    });
    expect(spans.filter((s) => s.traceId === unsampledTrace)).toEqual([]);
  });
});
