import Type from 'typebox';
import { describe, expect, it } from 'vitest';
import { applyRenamedVariables, ConfigError, loadConfig, mergeConfigSchema } from './config.ts';

const Schema = mergeConfigSchema(
  Type.Object({
    DATABASE_URL: Type.String({ format: 'uri' }),
    POOL_SIZE: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  }),
);

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig('test-service', Schema, env, { PORT: 8080 });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('coerces strings to the schema types and fills defaults', () => {
    const config = loadConfig('test-service', Schema, { DATABASE_URL: 'postgres://db/app', PORT: '9000' });
    expect(config).toMatchObject({
      DATABASE_URL: 'postgres://db/app',
      PORT: 9000,
      POOL_SIZE: 10,
      HOST: '0.0.0.0',
    });
  });

  it('names every bad or missing variable at once', () => {
    const problems = problemsOf({ PORT: 'eighty', POOL_SIZE: '0', LOG_LEVEL: 'loud' });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^DATABASE_URL is required/),
        expect.stringMatching(/^PORT must be integer/),
        expect.stringMatching(/^POOL_SIZE must be >= 1/),
        expect.stringMatching(/^LOG_LEVEL must be one of .*"info"/),
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it('rejects a port out of range and a malformed URL', () => {
    const problems = problemsOf({ DATABASE_URL: 'not a url', PORT: '70000' });
    expect(problems).toHaveLength(2);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT must be <= 65535/),
        expect.stringMatching(/^DATABASE_URL must match format "uri"/),
      ]),
    );
  });

  it('treats an empty variable as unset, so the default applies', () => {
    const config = loadConfig(
      'test-service',
      Schema,
      { DATABASE_URL: 'postgres://db/app', POOL_SIZE: '' },
      { PORT: 1 },
    );
    expect(config.POOL_SIZE).toBe(10);
  });
});

describe('applyRenamedVariables', () => {
  const renamed = [{ from: 'OLD_NAME', to: 'NEW_NAME' }];

  it('reads an old name under the new one and warns', () => {
    expect(applyRenamedVariables({ OLD_NAME: 'x', OTHER: 'y' }, renamed)).toEqual({
      env: { NEW_NAME: 'x', OTHER: 'y' },
      warnings: ['OLD_NAME is renamed NEW_NAME; the old name works for one release only'],
    });
  });

  it('lets the new name win when both are set, and says the old one is ignored', () => {
    expect(applyRenamedVariables({ OLD_NAME: 'x', NEW_NAME: 'z' }, renamed)).toEqual({
      env: { NEW_NAME: 'z' },
      warnings: ['OLD_NAME is renamed NEW_NAME and ignored, since NEW_NAME is set'],
    });
  });

  it('is silent when only the new name is used', () => {
    expect(applyRenamedVariables({ NEW_NAME: 'z' }, renamed)).toEqual({
      env: { NEW_NAME: 'z' },
      warnings: [],
    });
  });
});
