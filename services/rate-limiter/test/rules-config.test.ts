import { readFileSync, writeFileSync } from 'node:fs';
import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { DEFAULT_RULES_FILE } from '../src/config.ts';
import { loadRulesFile } from '../src/domain/rules-file.ts';
import { buildApp } from '../src/main.ts';
import { appWithRules } from './support/app.ts';
import { limiterEnv } from './support/env.ts';
import { startInstance, untilReady } from './support/processes.ts';
import { writeRules } from './support/rules-file.ts';

// Guarantee: a bad rule config is rejected at load with a message naming the rule and the field;
// a bad reload keeps the rules in force; a good one applies without a restart.

const good = [{ name: 'free', algorithm: 'fixed-window', limit: 100, windowMs: 60_000 }];
const bad = [
  { name: 'free', algorithm: 'fixed-window', limit: 100, windowMs: 60_000 },
  { name: 'pro', algorithm: 'fixed-window', limit: -5, windowMs: 60_000 },
  { name: 'bucket', algorithm: 'token-bucket', capacity: 100 },
];

describe('rules config', () => {
  test('the committed rules file is valid and has the tiers and the seeds bucket', async () => {
    const rules = await loadRulesFile(DEFAULT_RULES_FILE);
    expect(rules.find((r) => r.name === 'free')).toMatchObject({ limit: 100, windowMs: 60_000 });
    expect(rules.find((r) => r.name === 'pro')).toMatchObject({ limit: 10_000, windowMs: 60_000 });
    expect(rules.find((r) => r.name === 'bucket')).toMatchObject({ capacity: 100, refillPerSec: 10 });
    expect(new Set(rules.map((r) => r.algorithm))).toEqual(
      new Set(['token-bucket', 'sliding-window-log', 'sliding-window-counter', 'fixed-window']),
    );
  });

  test('a bad file is rejected at load, naming each rule and field', async ({ redis }) => {
    const file = writeRules(bad);
    try {
      const error = await buildApp({ REDIS_URL: redis.url, RULES_FILE: file.path, LOG_LEVEL: 'silent' }).then(
        () => undefined,
        (e: unknown) => e as { problems: string[] },
      );
      expect(error?.problems).toEqual([
        `RULES_FILE ${file.path}: rule "pro" (rules[1]): limit must be >= 1`,
        `RULES_FILE ${file.path}: rule "bucket" (rules[2]): refillPerSec is required`,
      ]);
    } finally {
      file.remove();
    }
  });

  test('the process refuses to start with a bad file and says why', async ({ redis }) => {
    const file = writeRules(bad);
    try {
      await expect(startInstance({ REDIS_URL: redis.url, RULES_FILE: file.path })).rejects.toThrow(
        /rate-limiter: invalid configuration[\s\S]*rule "pro" \(rules\[1\]\): limit must be >= 1/,
      );
    } finally {
      file.remove();
    }
  });

  test('a file change reloads; a bad change keeps the old rules and counts the rejection', async ({
    redis,
  }) => {
    const service = await appWithRules(redis, good, { RULES_WATCH: 'true' });
    const names = async () =>
      (
        (await service.app.inject({ method: 'GET', url: '/v1/rules' })).json().rules as { name: string }[]
      ).map((r) => r.name);
    try {
      service.rulesFile.write([
        ...good,
        { name: 'gold', algorithm: 'token-bucket', capacity: 5, refillPerSec: 1 },
      ]);
      await expect.poll(names, { timeout: 5000 }).toEqual(['free', 'gold']);
      const gold = await service.app.inject({
        method: 'POST',
        url: '/v1/checks',
        payload: { key: 'k', rule: 'gold' },
      });
      expect(gold.json()).toMatchObject({ allowed: true, limit: 5 });

      writeFileSync(
        service.rulesFile.path,
        'rules:\n  - name: gold\n    algorithm: token-bucket\n    capacity: zero\n',
      );
      const metric = async () => (await service.app.inject({ method: 'GET', url: '/metrics' })).body;
      await expect
        .poll(metric, { timeout: 5000 })
        .toContain(
          'sdlab_ratelimiter_rules_reloads_total{trigger="watch",result="rejected",service="rate-limiter"} 1',
        );
      expect(await names()).toEqual(['free', 'gold']);
    } finally {
      await service.close();
    }
  });

  test('SIGHUP reloads the rules of a running process, which keeps running', async ({ redis }) => {
    const file = writeRules(good);
    const instance = await startInstance(limiterEnv(redis, file.path, { RULES_WATCH: 'false' }));
    try {
      await untilReady(instance);
      file.write([...good, { name: 'gold', algorithm: 'fixed-window', limit: 7, windowMs: 1000 }]);
      instance.child.kill('SIGHUP');
      const names = async () =>
        ((await (await fetch(`${instance.url}/v1/rules`)).json()) as { rules: { name: string }[] }).rules.map(
          (r) => r.name,
        );
      await expect.poll(names, { timeout: 5000 }).toEqual(['free', 'gold']);
      expect(instance.child.exitCode).toBeNull();
      expect((await fetch(`${instance.url}/healthz`)).status).toBe(200);
      expect(readFileSync(file.path, 'utf8')).toContain('gold');
    } finally {
      await instance.stop();
      file.remove();
    }
  });
});
