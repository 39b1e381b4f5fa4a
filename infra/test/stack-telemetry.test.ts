import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from '@sdlab/testkit';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { planFromCompose } from '../stack/plan.ts';

// The whole native stack as `pnpm stack up` starts it, checked the way a user would look at it:
// every service and worker ready, and scraped by Prometheus. (The single-trace check through the
// ad-click ingest, Kafka, the aggregator and Postgres is issue 10's; it passes from a script but
// not yet reliably from this test, so it is not here until it does.)
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STACK = fileURLToPath(new URL('../stack/stack.ts', import.meta.url));
const exec = promisify(execFile);
const stack = (command: string, ...args: string[]) =>
  exec(process.execPath, ['--conditions=@sdlab/source', STACK, command, ...args], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 300_000,
  });

beforeAll(async () => {
  await stack('up');
}, 320_000);

afterAll(async () => {
  await stack('down', '--keep-infra');
}, 120_000);

async function poll<T>(
  what: string | (() => string),
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

describe('the native stack (pnpm stack up)', () => {
  test('every service and worker is ready and up in Prometheus', async ({ endpoints }) => {
    const plan = planFromCompose(ROOT, { ...endpoints, kafka: endpoints.kafka.join(',') });
    expect(plan.length).toBeGreaterThanOrEqual(3);
    for (const p of plan) {
      expect((await fetch(`http://127.0.0.1:${p.port}/readyz`)).status, p.name).toBe(200);
      const up = await poll(
        `up{job="${p.name}"}`,
        async () => {
          const query = encodeURIComponent(`up{job="${p.name}"}`);
          const body = (await (
            await fetch(`${endpoints.prometheus}/api/v1/query?query=${query}`)
          ).json()) as {
            data: { result: { value: [number, string] }[] };
          };
          const value = body.data.result[0]?.value[1];
          return value === '1' ? value : undefined;
        },
        30_000,
      );
      expect(up).toBe('1');
    }
  });
});
