import { describe, expect } from 'vitest';
import { test } from '../support/fixtures.ts';

describe('create rate limit (per client, @sdlab/rate-limit token bucket in Redis)', () => {
  test('a client over its budget gets a 429 problem with Retry-After; other clients and redirects are untouched', async ({
    apps,
    env,
  }) => {
    const { app } = await apps.api({
      ...env,
      CREATE_LIMIT_CAPACITY: '3',
      CREATE_LIMIT_REFILL_PER_SEC: '0.01',
    });
    const create = (remoteAddress: string, i: number) =>
      app.inject({
        method: 'POST',
        url: '/api/links',
        remoteAddress,
        headers: { 'content-type': 'application/json' },
        payload: { url: `https://example.com/${remoteAddress}/${i}` },
      });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await create('203.0.113.7', i)).statusCode);
    expect(statuses).toEqual([201, 201, 201, 429]);

    const limited = await create('203.0.113.7', 5);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.headers['ratelimit-policy']).toBe('"create-link";q=3;w=300');
    expect(limited.json()).toMatchObject({ status: 429, code: 'SDLAB_RATELIMIT_EXCEEDED' });

    const other = await create('198.51.100.9', 0);
    expect(other.statusCode).toBe(201);
    expect(
      (await app.inject({ method: 'GET', url: `/${other.json().code}`, remoteAddress: '203.0.113.7' }))
        .statusCode,
    ).toBe(302);
  });
});
