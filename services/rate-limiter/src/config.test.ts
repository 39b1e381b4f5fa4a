import { ConfigError, loadConfig } from '@sdlab/service-kit';
import { describe, expect, it } from 'vitest';
import { Config } from './config.ts';

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig('rate-limiter', Config, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('config', () => {
  it('defaults to the committed rules and the rl: prefix', () => {
    const config = loadConfig('rate-limiter', Config, {});
    expect(config.RL_KEY_PREFIX).toBe('rl:');
    expect(config.RULES_FILE).toMatch(/services\/rate-limiter\/config\/rules\.yaml$/);
    expect(config.BATCH_MAX).toBe(1000);
  });

  it('refuses a key prefix with braces, which would steal the hash tag, and out-of-range numbers', () => {
    expect(problems({ RL_KEY_PREFIX: 'rl:{x}:' })).toEqual([
      expect.stringMatching(/^RL_KEY_PREFIX must match pattern/),
    ]);
    expect([...problems({ BATCH_MAX: '0', REDIS_TIMEOUT_MS: '1' })].sort()).toEqual([
      'BATCH_MAX must be >= 1',
      'REDIS_TIMEOUT_MS must be >= 5',
    ]);
  });
});
