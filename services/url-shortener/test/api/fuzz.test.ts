import { fuzzOpenApi, test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { buildApp } from '../../src/main.ts';
import { shortenerEnv } from '../support/env.ts';

describe('fuzz: every operation of the OpenAPI document', () => {
  test('hostile input gets a 4xx problem+json, never a 5xx or a dropped connection', async ({
    pg,
    redis,
    kafka,
  }) => {
    const { app } = await buildApp(shortenerEnv({ pg, redis, brokers: kafka.brokers }));
    try {
      const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
      const report = await fuzzOpenApi({ baseUrl, document: app.swagger() });
      expect(report.cases).toBeGreaterThan(100);
      expect(report.findings).toEqual([]);
      expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
