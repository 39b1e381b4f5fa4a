import { ConfigError } from '@sdlab/service-kit';
import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { buildApp } from '../src/main.ts';
import { gatewayEnv } from './support/env.ts';

const REAL_SECRET = 'a-key-only-this-chat-deployment-knows-0123';

describe('NODE_ENV=production', () => {
  test('refuses the committed JWT secret and the token minter, naming each variable', async ({
    pg,
    redis,
  }) => {
    const refused = buildApp(
      gatewayEnv(pg, redis, { NODE_ENV: 'production', ADMIN_PORT: '0', TOKEN_ENDPOINT_ENABLED: 'true' }),
    );
    await expect(refused).rejects.toBeInstanceOf(ConfigError);
    const problems = (await refused.catch((e: ConfigError) => e.problems.join('\n'))) as string;
    expect(problems).toContain('JWT_SECRET is its committed development default');
    expect(problems).toContain('TOKEN_ENDPOINT_ENABLED=true turns on a development-only endpoint');
  });

  test('with a real secret, nobody can mint a token; SDLAB_DEV_MODE=true brings the minter back', async ({
    pg,
    redis,
  }) => {
    /** The status of POST /tokens for `userId` on an app started with `env`. */
    const mint = async (env: Record<string, string>, userId: string) => {
      const { app } = await buildApp(gatewayEnv(pg, redis, { NODE_ENV: 'production', ...env }));
      try {
        return await app.inject({ method: 'POST', url: '/tokens', payload: { userId, deviceId: 'd' } });
      } finally {
        await app.close();
      }
    };
    const minted = await mint({ ADMIN_PORT: '0', JWT_SECRET: REAL_SECRET }, 'victim');
    expect(minted.statusCode).toBe(404);
    const dev = await mint({ SDLAB_DEV_MODE: 'true' }, 'alice');
    expect(dev.statusCode).toBe(201);
  });
});
