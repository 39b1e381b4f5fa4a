import { afterEach, describe, expect, it } from 'vitest';
import { type RunningExample, spawnExample, startExample } from './spawn-example.ts';

const REAL = {
  EXAMPLE_WEBHOOK_SECRET: 'a-secret-only-this-deployment-knows',
  JWT_SECRET: 'an-hs256-key-of-this-deployment-0123456789',
  ADMIN_PORT: '0',
};

const running: RunningExample[] = [];
afterEach(async () => {
  for (const service of running.splice(0)) {
    service.child.kill('SIGTERM');
    await service.exited;
  }
});

describe('NODE_ENV=production refuses development values', () => {
  it('exits 1 naming every committed secret and the missing admin port', async () => {
    const { exited, stderr } = spawnExample({ NODE_ENV: 'production' });
    expect(await exited).toBe(1);
    expect(stderr()).toContain('kit-example: invalid configuration');
    expect(stderr()).toContain('EXAMPLE_WEBHOOK_SECRET is its committed development default');
    expect(stderr()).toContain('JWT_SECRET is its committed development default');
    expect(stderr()).toContain('ADMIN_PORT is not set');
  });

  it('exits 1 when a development-only endpoint is switched on', async () => {
    const { exited, stderr } = spawnExample({
      NODE_ENV: 'production',
      ...REAL,
      EXAMPLE_DEV_ENDPOINT_ENABLED: 'true',
    });
    expect(await exited).toBe(1);
    expect(stderr()).toContain('EXAMPLE_DEV_ENDPOINT_ENABLED=true turns on a development-only endpoint');
  });

  it('starts with real values: no development endpoint, /metrics and /docs only on the admin port', async () => {
    const service = await startExample({ NODE_ENV: 'production', ...REAL });
    running.push(service);
    expect((await fetch(`${service.url}/dev/only`)).status).toBe(404);
    expect((await fetch(`${service.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${service.url}/docs/json`)).status).toBe(404);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);

    expect(service.adminUrl).toBeDefined();
    const metrics = await fetch(`${service.adminUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('http_request_duration_seconds');
    const docs = await fetch(`${service.adminUrl}/docs/json`);
    expect(docs.status).toBe(200);
    expect(Object.keys(((await docs.json()) as { paths: object }).paths)).toContain('/hello/{name}');
    expect((await fetch(`${service.adminUrl}/readyz`)).status).toBe(200);
  });

  it('SDLAB_DEV_MODE=true keeps the development values working under NODE_ENV=production', async () => {
    const service = await startExample({ NODE_ENV: 'production', SDLAB_DEV_MODE: 'true' });
    running.push(service);
    expect((await fetch(`${service.url}/dev/only`)).status).toBe(200);
    expect((await fetch(`${service.url}/metrics`)).status).toBe(200);
  });
});
