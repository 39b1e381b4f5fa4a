import { ConfigError } from '@sdlab/service-kit';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/main.ts';
import { buildWorker } from '../src/worker.ts';

const SECRETS = ['JWT_SECRET', 'PAYMENT_WEBHOOK_SECRET', 'WAITING_ROOM_SECRET', 'PAYMENT_PROVIDER_API_KEY'];

describe('a production start', () => {
  it('refuses every committed development secret, naming each, in the API and the worker', async () => {
    const env = { NODE_ENV: 'production', ADMIN_PORT: '0', LOG_LEVEL: 'silent' };
    for (const build of [buildApp, buildWorker]) {
      const refused = await build(env).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(ConfigError);
      const text = (refused as ConfigError).problems.join('\n');
      for (const name of SECRETS) expect(text).toContain(name);
    }
  });

  it('names only what is still a default once the others are set', async () => {
    const refused = await buildApp({
      NODE_ENV: 'production',
      ADMIN_PORT: '0',
      LOG_LEVEL: 'silent',
      JWT_SECRET: 'a-real-secret-of-our-own-0123456789abcdef',
      PAYMENT_WEBHOOK_SECRET: 'a-real-webhook-secret-0123456789',
      PAYMENT_PROVIDER_API_KEY: 'a-real-provider-key-0123456789',
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ConfigError);
    const problems = (refused as ConfigError).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('WAITING_ROOM_SECRET');
  });
});
