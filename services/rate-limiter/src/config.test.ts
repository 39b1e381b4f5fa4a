import { applyRenamedVariables, ConfigError, loadConfig } from '@sdlab/service-kit';
import { describe, expect, it } from 'vitest';
import { Config, RENAMED_CONFIG } from './config.ts';

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
    expect(config.REDIS_KEY_PREFIX).toBe('rl:');
    expect(config.RULES_FILE).toMatch(/services\/rate-limiter\/config\/rules\.yaml$/);
    expect(config.BATCH_MAX).toBe(1000);
  });

  it('refuses a key prefix with braces, which would steal the hash tag, and out-of-range numbers', () => {
    expect(problems({ REDIS_KEY_PREFIX: 'rl:{x}:' })).toEqual([
      expect.stringMatching(/^REDIS_KEY_PREFIX must match pattern/),
    ]);
    expect([...problems({ BATCH_MAX: '0', REDIS_COMMAND_TIMEOUT_MS: '1' })].sort()).toEqual([
      'BATCH_MAX must be >= 1',
      'REDIS_COMMAND_TIMEOUT_MS must be >= 5',
    ]);
  });

  it('still reads the old names RL_KEY_PREFIX and REDIS_TIMEOUT_MS, with a warning for each', () => {
    const { env, warnings } = applyRenamedVariables(
      { RL_KEY_PREFIX: 'old:', REDIS_TIMEOUT_MS: '300' },
      RENAMED_CONFIG,
    );
    const config = loadConfig('rate-limiter', Config, env);
    expect(config.REDIS_KEY_PREFIX).toBe('old:');
    expect(config.REDIS_COMMAND_TIMEOUT_MS).toBe(300);
    expect(warnings).toEqual([
      'RL_KEY_PREFIX is renamed REDIS_KEY_PREFIX; the old name works for one release only',
      'REDIS_TIMEOUT_MS is renamed REDIS_COMMAND_TIMEOUT_MS; the old name works for one release only',
    ]);
  });
});
