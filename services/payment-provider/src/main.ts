// The payment provider: a local stand-in for a card processor (clearly not a real one). Wiring
// list: config, Postgres, the webhook dispatcher, routes, start.
import { createService, runIfMain } from '@sdlab/service-kit';
import { requireApiKey } from '@sdlab/service-kit/auth';
import { postgresAdapter } from './adapters/postgres.ts';
import { Config } from './config.ts';
import { PaymentsRepository } from './domain/payments.ts';
import { WebhookDispatcher } from './domain/webhook-dispatcher.ts';
import { paymentRoutes } from './routes/payments/index.ts';
import { createMetrics } from './telemetry.ts';

// Merchants' tests sign webhooks as the provider does.
export { SIGNATURE_HEADER, signWebhook } from '@sdlab/service-kit/webhook-signature';

export async function buildApp(env: NodeJS.ProcessEnv = process.env) {
  const service = await createService({
    name: 'payment-provider',
    description: 'Local stand-in for a card payment provider (idempotent charges, refunds, signed webhooks).',
    config: Config,
    defaults: { PORT: 8086 },
    env,
    secrets: ['WEBHOOK_SECRET', 'API_KEY'],
    devOnly: ['API_KEY_OPTIONAL'],
  });
  const { app, config, kit } = service;
  await app.register(postgresAdapter, { config });

  const metrics = createMetrics(kit.metrics);
  const payments = new PaymentsRepository(app.pg);
  const dispatcher = new WebhookDispatcher({
    pool: app.pg,
    url: config.WEBHOOK_URL,
    secret: config.WEBHOOK_SECRET,
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    pollMs: config.WEBHOOK_POLL_MS,
    metrics,
    log: app.log,
  });
  if (config.WEBHOOK_URL) {
    dispatcher.start();
    kit.resources.add('webhook-dispatcher', () => dispatcher.stop());
  }

  // Charges and refunds move money: only the merchant (its API key) may ask for them.
  await app.register(async (merchant) => {
    merchant.addHook('onRequest', requireApiKey(config.API_KEY, { optional: config.API_KEY_OPTIONAL }));
    await merchant.register(paymentRoutes, { config, payments, dispatcher, metrics });
  });
  await app.ready();
  return service;
}

runIfMain(import.meta, buildApp);
