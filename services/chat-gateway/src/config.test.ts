import { BaseConfig, ConfigError, loadConfig } from '@sdlab/service-kit';
import Type from 'typebox';
import { describe, expect, it } from 'vitest';
import { Config, checkConfig } from './config.ts';

const schema = Type.Object({ ...BaseConfig.properties, ...Config.properties });
const load = (env: Record<string, string>) => loadConfig('chat-gateway', schema, env, { PORT: 8083 });

describe('config', () => {
  it('starts with working defaults: the documented heartbeat, TTL, retention and group bound', () => {
    const config = load({});
    expect(config).toMatchObject({
      PORT: 8083,
      HEARTBEAT_INTERVAL_MS: 30_000,
      REGISTRY_TTL_MS: 70_000,
      RETENTION_DAYS: 30,
      MAX_GROUP_MEMBERS: 256,
      REDIS_KEY_PREFIX: 'chat:',
    });
  });

  it('rejects values that would break keys, tokens or the timers, naming each', () => {
    try {
      load({
        REDIS_KEY_PREFIX: 'chat:{x}',
        JWT_SECRET: 'short',
        HEARTBEAT_INTERVAL_MS: '5',
        INSTANCE_ID: 'a|b',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join('\n');
      for (const name of ['REDIS_KEY_PREFIX', 'JWT_SECRET', 'HEARTBEAT_INTERVAL_MS', 'INSTANCE_ID']) {
        expect(problems).toContain(name);
      }
    }
  });

  it('rejects a registry TTL that a heartbeat cannot keep alive', () => {
    const config = load({ HEARTBEAT_INTERVAL_MS: '30000', REGISTRY_TTL_MS: '20000' });
    expect(() => checkConfig(config)).toThrow(
      /REGISTRY_TTL_MS \(20000\) must be more than HEARTBEAT_INTERVAL_MS/,
    );
    expect(() => checkConfig(load({}))).not.toThrow();
  });
});
