import { RateLimiter, type Rule, RulesError } from '@sdlab/rate-limit';
import { ConfigError } from '@sdlab/service-kit';
import fp from 'fastify-plugin';
import { rateLimiterKeys } from '../keys.ts';
import { rateLimiterMetrics } from '../telemetry.ts';
import { loadRulesFile } from './rules-file.ts';
import { RulesReloader } from './rules-reloader.ts';

declare module 'fastify' {
  interface FastifyInstance {
    limiter: RateLimiter;
    rules: RulesReloader;
  }
}

export interface LimiterPluginOptions {
  rulesFile: string;
  watchRules: boolean;
  keyPrefix: string;
  redisTimeoutMs: number;
  breakerFailures: number;
  breakerHalfOpenMs: number;
  maxLocalKeys: number;
}

/**
 * The limiter over the Redis adapter, with the rules from the file. A bad file at start-up throws
 * (the service does not start); a bad file on reload is rejected and the old rules stay.
 */
export const limiterPlugin = fp<LimiterPluginOptions>(
  async (app, options) => {
    const rules = await initialRules(app.kit.name, options.rulesFile);
    const limiter = new RateLimiter({
      redis: app.redis,
      rules,
      keys: rateLimiterKeys(options.keyPrefix),
      registry: app.kit.metrics,
      breaker: {
        failures: options.breakerFailures,
        halfOpenAfterMs: options.breakerHalfOpenMs,
        timeoutMs: options.redisTimeoutMs,
      },
      maxLocalKeys: options.maxLocalKeys,
      logger: app.log,
    });
    const reloader = new RulesReloader({
      path: options.rulesFile,
      initial: rules,
      apply: (next) => limiter.setRules(next),
      log: app.log,
      metrics: rateLimiterMetrics(app.kit.metrics),
    });
    if (options.watchRules) reloader.watch();
    app.decorate('limiter', limiter);
    app.decorate('rules', reloader);
    // Registered after Redis, so closed before it: the local cache commits its admissions first.
    app.kit.resources.add('limiter', async () => {
      reloader.close();
      await limiter.close();
    });
  },
  { name: 'limiter', dependencies: ['redis'] },
);

/** A bad rules file stops the start like any bad setting: exit 1, every problem listed. */
async function initialRules(service: string, path: string): Promise<Rule[]> {
  try {
    return await loadRulesFile(path);
  } catch (error) {
    if (error instanceof RulesError)
      throw new ConfigError(
        service,
        error.problems.map((p) => `RULES_FILE ${path}: ${p}`),
      );
    throw error;
  }
}
