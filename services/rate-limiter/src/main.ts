import { createService, runIfMain } from '@sdlab/service-kit';
import { requireApiKey } from '@sdlab/service-kit/auth';
import { redisAdapter } from './adapters/redis.ts';
import { Config, RENAMED_CONFIG } from './config.ts';
import { limiterPlugin } from './domain/limiter.ts';
import { checkRoutes } from './routes/checks/index.ts';
import { ruleRoutes } from './routes/rules/index.ts';

/** The decision service: config, Redis, the limiter with its rules, the routes. */
export async function buildApp(env: NodeJS.ProcessEnv = process.env) {
  const service = await createService({
    name: 'rate-limiter',
    description: 'Rate-limit decisions on Redis: token bucket, sliding windows, fixed window.',
    config: Config,
    defaults: { PORT: 8082 },
    env,
    // SIGHUP reloads the rules (the daemon convention); it must never stop the service.
    keepRunningOn: ['SIGHUP'],
    secrets: ['API_KEY'],
    devOnly: ['API_KEY_OPTIONAL'],
    renamedConfig: RENAMED_CONFIG,
  });
  const { app, config } = service;

  await app.register(redisAdapter, { url: config.REDIS_URL });
  await app.register(limiterPlugin, {
    rulesFile: config.RULES_FILE,
    watchRules: config.RULES_WATCH,
    keyPrefix: config.REDIS_KEY_PREFIX,
    redisTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    breakerFailures: config.BREAKER_FAILURES,
    breakerHalfOpenMs: config.BREAKER_HALF_OPEN_MS,
    maxLocalKeys: config.LOCAL_MAX_KEYS,
  });
  // Decisions are asked for by gateways acting for their callers, never by the callers themselves.
  await app.register(async (gateways) => {
    gateways.addHook('onRequest', requireApiKey(config.API_KEY, { optional: config.API_KEY_OPTIONAL }));
    await gateways.register(checkRoutes, { batchMax: config.BATCH_MAX });
    await gateways.register(ruleRoutes);
  });
  return service;
}

runIfMain(import.meta, buildApp, (service) => service.app.rules.listenForSighup());
