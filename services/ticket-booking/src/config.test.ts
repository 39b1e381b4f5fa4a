import { BaseConfig, ConfigError, loadConfig } from '@sdlab/service-kit';
import Type from 'typebox';
import { describe, expect, it } from 'vitest';
import { Config } from './config.ts';

const schema = Type.Object({ ...BaseConfig.properties, ...Config.properties });
const load = (env: Record<string, string>) => loadConfig('ticket-booking', schema, env, { PORT: 8085 });

describe('config', () => {
  it('has working defaults for the local stack, with the documented hold, sweep and admission figures', () => {
    const config = load({});
    expect(config).toMatchObject({
      HOLD_TTL_MS: 600_000,
      SWEEP_EVERY_MS: 30_000,
      WAITING_ROOM_ADMIT_BATCH: 1000,
      WAITING_ROOM_ADMIT_EVERY_MS: 10_000,
      WAITING_ROOM_TOKEN_TTL_S: 300,
      REDIS_FAILURE_POLICY: 'db-only',
    });
  });

  it('refuses bad values, naming each variable', () => {
    try {
      load({
        REDIS_FAILURE_POLICY: 'maybe',
        WAITING_ROOM_SECRET: 'short',
        SEARCH_INDEX: 'Bad Index',
        HOLD_TTL_MS: '0',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const text = (error as ConfigError).problems.join('\n');
      for (const name of ['REDIS_FAILURE_POLICY', 'WAITING_ROOM_SECRET', 'SEARCH_INDEX', 'HOLD_TTL_MS'])
        expect(text).toContain(name);
    }
  });
});
