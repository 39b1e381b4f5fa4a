import { describe, expect, type TestFunction } from 'vitest';
import { type Fixtures, test } from './fixtures.ts';
import { type FuzzReport, fuzzOpenApi } from './openapi-fuzz.ts';

type FuzzOptions = Parameters<typeof fuzzOpenApi>[0];

/** A Fastify app with the kit's OpenAPI document, not listening yet. */
interface ServiceApp {
  listen(options: { host: string; port: number }): Promise<string>;
  swagger(): unknown;
}

/**
 * Every service's fuzz test, named the same everywhere. `body` builds the service from its own
 * fixtures (destructure the ones it needs: vitest starts only those) and calls expectFuzzClean.
 */
export function describeFuzz(body: TestFunction<Fixtures>): void {
  describe('fuzz: every operation of the OpenAPI document', () => {
    test('hostile input gets a 4xx problem+json, never a 5xx or a dropped connection', body);
  });
}

/**
 * What every service's fuzz test promises of its real app: the pass runs more than 100 cases,
 * finds nothing (no 5xx, no dropped connection, every refusal problem+json), and the service
 * still answers /readyz 200 afterwards. Give it the app (it listens on a free loopback port) or
 * the address and document of one already listening.
 */
export async function expectFuzzClean(
  target: ({ app: ServiceApp } | Pick<FuzzOptions, 'baseUrl' | 'document'>) &
    Omit<FuzzOptions, 'baseUrl' | 'document'>,
): Promise<FuzzReport> {
  const { baseUrl, document } =
    'app' in target
      ? { baseUrl: await target.app.listen({ host: '127.0.0.1', port: 0 }), document: target.app.swagger() }
      : target;
  const report = await fuzzOpenApi({ ...target, baseUrl, document });
  expect(report.cases).toBeGreaterThan(100);
  expect(report.findings).toEqual([]);
  expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
  return report;
}
