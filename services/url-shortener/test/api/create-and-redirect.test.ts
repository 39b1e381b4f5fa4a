import { describe, expect } from 'vitest';
import { test } from '../support/fixtures.ts';

const json = { 'content-type': 'application/json' };

describe('create and redirect (app.inject on real Postgres, Redis, Kafka)', () => {
  test('creates a 7-character code and redirects to it with a 302', async ({ apps, env }) => {
    const { app } = await apps.api(env);
    const created = await app.inject({
      method: 'POST',
      url: '/api/links',
      headers: json,
      payload: { url: 'https://example.com/some/long/path?q=1' },
    });
    expect(created.statusCode).toBe(201);
    const link = created.json();
    expect(link).toMatchObject({ url: 'https://example.com/some/long/path?q=1', expiresAt: null });
    expect(link.code).toMatch(/^[0-9a-zA-Z]{7}$/);
    expect(link.shortUrl).toBe(`http://sho.rt/${link.code}`);
    expect(created.headers.location).toBe(link.shortUrl);

    const redirect = await app.inject({ method: 'GET', url: `/${link.code}` });
    expect(redirect.statusCode).toBe(302);
    expect(redirect.headers.location).toBe('https://example.com/some/long/path?q=1');
    expect(redirect.headers['cache-control']).toBe('private, no-store');
  });

  test('names the field in every validation problem', async ({ apps, env }) => {
    const { app } = await apps.api(env);
    const fieldsOf = async (payload: unknown, headers: Record<string, string> = {}) => {
      const response = await app.inject({
        method: 'POST',
        url: '/api/links',
        headers: { ...json, ...headers },
        payload: payload as object,
      });
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = response.json();
      return problem.errors
        ? problem.errors.map((e: { field: string }) => e.field)
        : [problem.code, problem.title];
    };
    expect(await fieldsOf({})).toEqual(['body.url']);
    expect(await fieldsOf({ url: 'ftp://example.com/file' })).toEqual(['body.url']);
    expect(await fieldsOf({ url: `https://example.com/${'a'.repeat(2048)}` })).toEqual(['body.url']);
    expect(await fieldsOf({ url: 'https://example.com', alias: 'no spaces' })).toEqual(['body.alias']);
    expect(await fieldsOf({ url: 'https://example.com', alias: 'ab' })).toEqual(['body.alias']);
    expect(await fieldsOf({ url: 'https://example.com', alias: 'x'.repeat(33) })).toEqual(['body.alias']);
    expect(await fieldsOf({ url: 'https://example.com', expiresAt: 'tomorrow' })).toEqual(['body.expiresAt']);
    expect(await fieldsOf({ url: 'https://example.com' }, { 'idempotency-key': 'x'.repeat(129) })).toEqual([
      'headers.idempotency-key',
    ]);
    expect(await fieldsOf({ url: 'https://example.com', alias: 'Metrics' })).toEqual([
      'SDLAB_SHORTENER_ALIAS_RESERVED',
      'alias: "Metrics" is reserved',
    ]);
    expect(await fieldsOf({ url: 'https://example.com', expiresAt: '2001-01-01T00:00:00Z' })).toEqual([
      'SDLAB_SHORTENER_EXPIRY_IN_PAST',
      'expiresAt: must be in the future',
    ]);
    expect(await fieldsOf({ url: 'https://user:pw@example.com/' })).toEqual([
      'SDLAB_SHORTENER_INVALID_URL',
      'url: must not contain credentials',
    ]);
    const badCode = await app.inject({ method: 'GET', url: '/a.b' });
    expect(badCode.statusCode).toBe(400);
    expect(badCode.json().errors[0].field).toBe('params.code');
  });

  test('a taken alias is a 409 problem', async ({ apps, env }) => {
    const { app } = await apps.api(env);
    const create = () =>
      app.inject({
        method: 'POST',
        url: '/api/links',
        headers: json,
        payload: { url: 'https://example.com/a', alias: 'launch-2026' },
      });
    expect((await create()).statusCode).toBe(201);
    const again = await create();
    expect(again.statusCode).toBe(409);
    expect(again.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(again.json()).toMatchObject({ status: 409, code: 'SDLAB_SHORTENER_ALIAS_TAKEN' });
    const redirect = await app.inject({ method: 'GET', url: '/launch-2026' });
    expect(redirect.headers.location).toBe('https://example.com/a');
  });

  test('unknown codes are 404 problems, and negatively cached', async ({ apps, env }) => {
    const service = await apps.api(env);
    const { app } = service;
    const first = await app.inject({ method: 'GET', url: '/nothere1' });
    expect(first.statusCode).toBe(404);
    expect(first.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(first.json()).toMatchObject({ code: 'SDLAB_SHORTENER_LINK_NOT_FOUND', status: 404 });
    const readsAfterFirst = app.shortener.links.reads;
    for (let i = 0; i < 20; i++)
      expect((await app.inject({ method: 'GET', url: '/nothere1' })).statusCode).toBe(404);
    expect(app.shortener.links.reads).toBe(readsAfterFirst);

    // Creating the code replaces the negative entry at once on this instance and in Redis.
    const created = await app.inject({
      method: 'POST',
      url: '/api/links',
      headers: json,
      payload: { url: 'https://example.com/now', alias: 'nothere1' },
    });
    expect(created.statusCode).toBe(201);
    expect((await app.inject({ method: 'GET', url: '/nothere1' })).statusCode).toBe(302);
    expect((await app.inject({ method: 'GET', url: '/api/links/nothere2/stats' })).statusCode).toBe(404);
  });

  test('an expired link is a 410 problem', async ({ apps, env }) => {
    const { app } = await apps.api(env);
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const created = await app.inject({
      method: 'POST',
      url: '/api/links',
      headers: json,
      payload: { url: 'https://example.com/sale', expiresAt },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json().expiresAt).toBe(expiresAt);
    const { code } = created.json();
    expect((await app.inject({ method: 'GET', url: `/${code}` })).statusCode).toBe(302);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(expiresAt) - Date.now() + 50));
    const gone = await app.inject({ method: 'GET', url: `/${code}` });
    expect(gone.statusCode).toBe(410);
    expect(gone.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(gone.json()).toMatchObject({ code: 'SDLAB_SHORTENER_LINK_EXPIRED', status: 410 });
  });

  test('documents every route in OpenAPI at /docs', async ({ apps, env }) => {
    const { app } = await apps.api(env);
    const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(Object.keys(spec.paths).sort()).toEqual(['/api/links', '/api/links/{code}/stats', '/{code}']);
    expect(Object.keys(spec.paths['/{code}'].get.responses).sort()).toEqual([
      '302',
      '400',
      '404',
      '410',
      '503',
    ]);
  });
});
