import { expect } from 'vitest';
import { type FuzzReport, fuzzOpenApi } from './openapi-fuzz.ts';

/**
 * What every service's fuzz test promises of its real, listening app: the pass runs more than 100
 * cases, finds nothing (no 5xx, no dropped connection, every refusal problem+json), and the
 * service still answers /readyz 200 afterwards.
 */
export async function expectFuzzClean(options: Parameters<typeof fuzzOpenApi>[0]): Promise<FuzzReport> {
  const report = await fuzzOpenApi(options);
  expect(report.cases).toBeGreaterThan(100);
  expect(report.findings).toEqual([]);
  expect((await fetch(`${options.baseUrl}/readyz`)).status).toBe(200);
  return report;
}
