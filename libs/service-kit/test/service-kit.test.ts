import { afterEach, describe, expect, it } from 'vitest';
import { createUnavailableError } from '../src/index.ts';
import { buildExample } from './fixtures/example-service.ts';

type Example = Awaited<ReturnType<typeof buildExample>>;
const open: Example[] = [];

async function example(env: NodeJS.ProcessEnv = {}): Promise<Example> {
  const service = await buildExample(env);
  open.push(service);
  await service.app.ready();
  return service;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.app.close()));
});

describe('readiness', () => {
  it('answers 200 when every registered check passes', async () => {
    const { app } = await example({ EXAMPLE_DEPENDENCY_UP: 'true' });
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      status: 'ready',
      checks: [{ name: 'example-dependency', ok: true }],
    });
  });

  it('answers 503 naming the check that failed, while liveness stays 200', async () => {
    const { app } = await example({ EXAMPLE_DEPENDENCY_UP: 'false' });
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(ready.json().detail).toBe('not ready: example-dependency (connection refused)');
    const live = await app.inject({ method: 'GET', url: '/healthz' });
    expect(live.statusCode).toBe(200);
  });
});

describe('metrics', () => {
  it('counts a request under its route pattern, method and status', async () => {
    const { app } = await example();
    await app.inject({ method: 'GET', url: '/hello/ada' });
    await app.inject({ method: 'GET', url: '/hello/grace' });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain(
      'http_request_duration_seconds_count{service="kit-example",route="/hello/:name",method="GET",status_code="200"} 2',
    );
    // The SLO thresholds are bucket edges, so p(x) < 50 ms can be read exactly.
    for (const edge of ['0.005', '0.01', '0.05', '0.1', '0.2', '0.5']) {
      expect(metrics.body).toContain(`_bucket{le="${edge}",service="kit-example",route="/hello/:name"`);
    }
    expect(metrics.body).toContain('process_cpu_user_seconds_total');
  });

  it('counts an unknown path as route "unmatched" and a failed request under its status, never /metrics itself', async () => {
    const { app } = await example();
    await app.inject({ method: 'GET', url: '/nope/1' });
    await app.inject({ method: 'GET', url: '/nope/2' });
    await app.inject({ method: 'POST', url: '/echo', payload: { text: 'hi', count: 11 } });
    await app.inject({ method: 'GET', url: '/metrics' });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain(
      'http_request_duration_seconds_count{service="kit-example",route="unmatched",method="GET",status_code="404"} 2',
    );
    expect(metrics).toContain(
      'http_request_duration_seconds_count{service="kit-example",route="/echo",method="POST",status_code="400"} 1',
    );
    expect(metrics).not.toContain('route="/metrics"');
  });
});

describe('problem+json', () => {
  it('returns a validation problem naming the offending field', async () => {
    const { app } = await example();
    const response = await app.inject({ method: 'POST', url: '/echo', payload: { text: 'hi', count: 11 } });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({
      type: 'urn:sdlab:problem:validation',
      status: 400,
      code: 'SDLAB_VALIDATION',
      instance: '/echo',
      errors: [{ field: 'body.count', message: 'must be <= 10' }],
    });
  });

  it('names a missing field and a bad path parameter', async () => {
    const { app } = await example();
    const missing = await app.inject({ method: 'POST', url: '/echo', payload: { count: 1 } });
    expect(missing.json().errors).toEqual([
      { field: 'body.text', message: "must have required property 'text'" },
    ]);
    const badParam = await app.inject({ method: 'GET', url: '/hello/ADA' });
    expect(badParam.statusCode).toBe(400);
    expect(badParam.json().errors[0].field).toBe('params.name');
  });

  it('hides internal details of an unexpected error behind a generic 500', async () => {
    const { app } = await example();
    const response = await app.inject({ method: 'GET', url: '/boom' });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      instance: '/boom',
    });
    expect(response.body).not.toContain('secret');
  });

  it('renders a dependency that is down as a coded 503 with Retry-After', async () => {
    const { app } = await example({ EXAMPLE_DEPENDENCY_UP: 'false' });
    const response = await app.inject({ method: 'GET', url: '/through-dependency' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({
      status: 503,
      code: 'SDLAB_KIT_DEPENDENCY_UNAVAILABLE',
      title: 'example-dependency is unavailable; try again shortly',
    });
  });

  it("builds a service's own coded 503 with its cause and its Retry-After", () => {
    const Busy = createUnavailableError('SDLAB_EXAMPLE_BUSY', 'the %s queue is full', 5);
    const cause = new Error('too many');
    const error = new Busy('upload', { cause });
    expect(error).toMatchObject({
      code: 'SDLAB_EXAMPLE_BUSY',
      statusCode: 503,
      message: 'the upload queue is full',
      retryAfterSeconds: 5,
      cause,
    });
    expect(new Busy('upload')).toBeInstanceOf(Busy);
  });

  it('renders an unknown route as a 404 problem', async () => {
    const { app } = await example();
    const response = await app.inject({ method: 'GET', url: '/nope?x=1' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ status: 404, code: 'SDLAB_KIT_NOT_FOUND', instance: '/nope' });
  });
});

describe('OpenAPI and request ids', () => {
  it('publishes every route with its schemas at /docs/json and a UI at /docs', async () => {
    const { app } = await example();
    const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(spec.openapi).toMatch(/^3\./);
    expect(spec.info.title).toBe('kit-example');
    expect(spec.paths['/hello/{name}'].get.parameters[0]).toMatchObject({ name: 'name', in: 'path' });
    expect(spec.paths['/echo'].post.requestBody.content['application/json'].schema.required).toEqual([
      'text',
      'count',
    ]);
    expect(spec.paths['/healthz']).toBeUndefined();
    const ui = await app.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
  });

  it('keeps a sane caller request id and replaces an unsafe one', async () => {
    const { app } = await example();
    const kept = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(kept.headers['x-request-id']).toBe('abc-123');
    const replaced = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'x'.repeat(500) },
    });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
