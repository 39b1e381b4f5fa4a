import { apiKeyConfig } from '@sdlab/service-kit/auth';
import Type, { type Static } from 'typebox';

// The provider's settings, read once by the kit at start-up; nothing else reads process.env.
// The behaviour knobs make it act like a real card processor on a bad day, on purpose.
export const Config = Type.Object({
  DATABASE_URL: Type.String({ default: 'postgres://postgres@127.0.0.1:5432/postgres', minLength: 1 }),
  PG_POOL_MAX: Type.Integer({ default: 10, minimum: 1, maximum: 100 }),
  PG_CONNECT_TIMEOUT_MS: Type.Integer({ default: 2000, minimum: 100, maximum: 60_000 }),

  /** Processing time of a charge: uniform in [LATENCY_MS, LATENCY_MS + JITTER_MS]. */
  PAYMENT_LATENCY_MS: Type.Integer({ default: 30, minimum: 0, maximum: 60_000 }),
  PAYMENT_LATENCY_JITTER_MS: Type.Integer({ default: 40, minimum: 0, maximum: 60_000 }),
  /** Share of charges declined by the "issuer" (pm_card_visa only; test methods force an outcome). */
  PAYMENT_DECLINE_RATE: Type.Number({ default: 0.02, minimum: 0, maximum: 1 }),
  /** Share of charges that succeed but answer only after PAYMENT_SLOW_RESPONSE_MS: a client timeout. */
  PAYMENT_TIMEOUT_RATE: Type.Number({ default: 0, minimum: 0, maximum: 1 }),
  PAYMENT_SLOW_RESPONSE_MS: Type.Integer({ default: 30_000, minimum: 0, maximum: 300_000 }),
  /** Share of requests refused with 503 before anything is charged. */
  PAYMENT_UNAVAILABLE_RATE: Type.Number({ default: 0, minimum: 0, maximum: 1 }),

  /** Where webhooks go (one endpoint per merchant account, as with real providers). Empty: none sent. */
  WEBHOOK_URL: Type.String({ default: 'http://127.0.0.1:8085/webhooks/payments', maxLength: 2048 }),
  /** Shared with the merchant, who verifies the `Sdlab-Signature` header with it. */
  WEBHOOK_SECRET: Type.String({ default: 'dev-webhook-secret-change-me', minLength: 16, maxLength: 256 }),
  WEBHOOK_DELAY_MS: Type.Integer({ default: 50, minimum: 0, maximum: 600_000 }),
  /** Share of webhook events delivered twice (same event id). */
  WEBHOOK_DUPLICATE_RATE: Type.Number({ default: 0.05, minimum: 0, maximum: 1 }),
  WEBHOOK_MAX_ATTEMPTS: Type.Integer({ default: 8, minimum: 1, maximum: 100 }),
  WEBHOOK_RETRY_BASE_MS: Type.Integer({ default: 200, minimum: 10, maximum: 600_000 }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({ default: 5000, minimum: 100, maximum: 60_000 }),
  /** The merchant's key: `Authorization: Bearer <API_KEY>` on every payment and refund call. */
  ...apiKeyConfig('dev-payment-provider-api-key'),
  WEBHOOK_POLL_MS: Type.Integer({ default: 250, minimum: 10, maximum: 60_000 }),
});
export type Config = Static<typeof Config>;
