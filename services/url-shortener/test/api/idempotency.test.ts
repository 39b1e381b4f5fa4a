import { describe, expect } from 'vitest';
import { test } from '../support/fixtures.ts';

const post = (key: string, payload: object) => ({
  method: 'POST' as const,
  url: '/api/links',
  headers: { 'content-type': 'application/json', 'idempotency-key': key },
  payload,
});

describe('Idempotency-Key on create', () => {
  test('a retry returns the first result and creates nothing new', async ({ apps, env, pg }) => {
    const { app } = await apps.api(env);
    const first = await app.inject(post('retry-1', { url: 'https://example.com/once' }));
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const retry = await app.inject(post('retry-1', { url: 'https://example.com/once' }));
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json()).toEqual(first.json());
    const { rows } = await pg.pool.query(
      "SELECT count(*)::int AS n FROM shortener.links WHERE long_url = 'https://example.com/once'",
    );
    expect(rows[0].n).toBe(1);
  });

  test('the same key with a different body is a 422 problem', async ({ apps, env }) => {
    const { app } = await apps.api(env);
    expect((await app.inject(post('retry-2', { url: 'https://example.com/a' }))).statusCode).toBe(201);
    const other = await app.inject(post('retry-2', { url: 'https://example.com/b' }));
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ code: 'SDLAB_SHORTENER_IDEMPOTENCY_KEY_REUSED' });
  });

  test('concurrent requests with one key create one link, and all get its code', async ({
    apps,
    env,
    pg,
  }) => {
    const { app } = await apps.api(env);
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        app.inject(post('retry-3', { url: 'https://example.com/race', alias: 'race-1' })),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(201));
    expect(new Set(responses.map((r) => r.json().code))).toEqual(new Set(['race-1']));
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(19);
    const { rows } = await pg.pool.query(
      "SELECT count(*)::int AS n FROM shortener.links WHERE code = 'race-1'",
    );
    expect(rows[0].n).toBe(1);
  });
});
