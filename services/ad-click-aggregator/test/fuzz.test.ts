import { fuzzOpenApi, test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { startApi } from './support/app.ts';
import { ADMIN } from './support/auth.ts';

describe('fuzz: every operation of the OpenAPI document', () => {
  test('hostile input gets a 4xx problem+json, never a 5xx or a dropped connection', async ({
    pg,
    redis,
    kafka,
  }) => {
    const api = await startApi({ pg, redis, kafka }, 1);
    const { app } = api;
    try {
      const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
      const report = await fuzzOpenApi({ baseUrl, document: app.swagger(), headers: ADMIN });
      expect(report.cases).toBeGreaterThan(100);
      expect(report.findings).toEqual([]);
      expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
    } finally {
      await app.reconcileQueue.obliterate({ force: true }).catch(() => undefined);
      await api.close();
    }
  });
});
