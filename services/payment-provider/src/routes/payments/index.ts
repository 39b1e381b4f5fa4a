import { setTimeout as sleep } from 'node:timers/promises';
import { trace } from '@opentelemetry/api';
import type { App } from '@sdlab/service-kit';
import Type from 'typebox';
import type { Config } from '../../config.ts';
import { decide, latencyMs } from '../../domain/behaviour.ts';
import { fingerprint, type PaymentsRepository } from '../../domain/payments.ts';
import type { WebhookDispatcher } from '../../domain/webhook-dispatcher.ts';
import { PaymentErrors } from '../../errors.ts';
import {
  ChargeBody,
  IdempotencyKeyHeader,
  ListQuery,
  PaymentIdParams,
  PaymentSchema,
  Problem,
} from '../../schemas/payments.ts';
import { Attr, type Metrics } from '../../telemetry.ts';

export interface PaymentRoutesOptions {
  config: Config;
  payments: PaymentsRepository;
  dispatcher: WebhookDispatcher;
  metrics: Metrics;
}

export async function paymentRoutes(app: App, opts: PaymentRoutesOptions): Promise<void> {
  const { config, payments, dispatcher, metrics } = opts;
  const webhookCopies = () =>
    config.WEBHOOK_URL ? (Math.random() < config.WEBHOOK_DUPLICATE_RATE ? 2 : 1) : 0;
  const tags = ['payments'];

  app.post(
    '/payments',
    {
      schema: {
        tags,
        summary: 'Charge a card, once per Idempotency-Key',
        headers: IdempotencyKeyHeader,
        body: ChargeBody,
        response: { 200: PaymentSchema, 201: PaymentSchema, 400: Problem, 422: Problem, 503: Problem },
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      const body = request.body;
      const existing = await payments.byIdempotencyKey(key);
      if (existing) {
        if (
          fingerprint(body) !==
          fingerprint({ ...existing, paymentMethod: existing.paymentMethod as typeof body.paymentMethod })
        )
          throw new PaymentErrors.IdempotencyKeyReused();
        metrics.replays.inc({ op: 'charge' });
        trace.getActiveSpan()?.setAttributes({ [Attr.paymentId]: existing.id, [Attr.replayed]: true });
        return reply.code(200).header('idempotent-replayed', 'true').send(existing);
      }
      const decision = decide(body.paymentMethod, {
        declineRate: config.PAYMENT_DECLINE_RATE,
        timeoutRate: config.PAYMENT_TIMEOUT_RATE,
        unavailableRate: config.PAYMENT_UNAVAILABLE_RATE,
      });
      if (decision.kind === 'unavailable') {
        metrics.unavailable.inc();
        throw new PaymentErrors.Unavailable();
      }
      await sleep(latencyMs(config.PAYMENT_LATENCY_MS, config.PAYMENT_LATENCY_JITTER_MS));
      const result = await payments.charge(key, body, decision, {
        copies: webhookCopies(),
        delayMs: config.WEBHOOK_DELAY_MS,
      });
      if (result.replayed) {
        if (result.requestHash !== fingerprint(body)) throw new PaymentErrors.IdempotencyKeyReused();
        metrics.replays.inc({ op: 'charge' });
        return reply.code(200).header('idempotent-replayed', 'true').send(result.payment);
      }
      metrics.charges.inc({ outcome: decision.status, slow: String(decision.slowResponse) });
      trace
        .getActiveSpan()
        ?.setAttributes({ [Attr.paymentId]: result.payment.id, [Attr.outcome]: decision.status });
      dispatcher.kick(config.WEBHOOK_DELAY_MS);
      // The charge is made; only the answer is late. A client that gives up must not assume
      // "not charged": it retries with the same key or waits for the webhook.
      if (decision.slowResponse) await sleep(config.PAYMENT_SLOW_RESPONSE_MS);
      return reply.code(201).send(result.payment);
    },
  );

  app.get(
    '/payments',
    {
      schema: {
        tags,
        summary: 'Find payments by the merchant reference or the idempotency key (reconciliation)',
        querystring: ListQuery,
        response: { 200: Type.Object({ data: Type.Array(PaymentSchema) }), 400: Problem },
      },
    },
    async (request) => {
      const { reference, idempotencyKey, limit } = request.query;
      if (idempotencyKey) {
        const payment = await payments.byIdempotencyKey(idempotencyKey);
        return { data: payment && (!reference || payment.reference === reference) ? [payment] : [] };
      }
      return { data: reference ? await payments.byReference(reference, limit) : [] };
    },
  );

  app.get(
    '/payments/:id',
    { schema: { tags, params: PaymentIdParams, response: { 200: PaymentSchema, 404: Problem } } },
    async (request) => {
      const payment = await payments.get(request.params.id);
      if (!payment) throw new PaymentErrors.NotFound(request.params.id);
      return payment;
    },
  );

  app.post(
    '/payments/:id/refunds',
    {
      schema: {
        tags,
        summary: 'Refund a succeeded payment in full (idempotent: a second refund changes nothing)',
        params: PaymentIdParams,
        response: { 200: PaymentSchema, 201: PaymentSchema, 404: Problem, 409: Problem },
      },
    },
    async (request, reply) => {
      const result = await payments.refund(request.params.id, {
        copies: webhookCopies(),
        delayMs: config.WEBHOOK_DELAY_MS,
      });
      if (!result) throw new PaymentErrors.NotFound(request.params.id);
      if ('notRefundable' in result)
        throw new PaymentErrors.NotRefundable(request.params.id, result.notRefundable.status);
      if (result.replayed) {
        metrics.replays.inc({ op: 'refund' });
        return reply.code(200).header('idempotent-replayed', 'true').send(result.payment);
      }
      metrics.refunds.inc();
      dispatcher.kick(config.WEBHOOK_DELAY_MS);
      return reply.code(201).send(result.payment);
    },
  );
}
