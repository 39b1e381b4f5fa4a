import type { App } from '@sdlab/service-kit';
import { SIGNATURE_HEADER, verifyWebhook } from '@sdlab/service-kit/webhook-signature';
import Type from 'typebox';
import { BookingErrors } from '../../errors.ts';
import { Problem } from '../../schemas/common.ts';
import { PaymentWebhookBody } from '../../schemas/purchases.ts';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: string;
  }
}

/**
 * The provider's webhooks. Delivery is at least once (retries, and duplicates on purpose), so
 * the event id is recorded in the same transaction as the change it causes: a second delivery
 * finds it and changes nothing. The signature is checked over the raw body, kept by a JSON
 * parser that exists only in this plugin.
 */
export async function webhookRoutes(app: App): Promise<void> {
  const { purchases, metrics, config } = app.booking;
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: 65_536 },
    (request, body, done) => {
      request.rawBody = body as string;
      try {
        done(null, JSON.parse(body as string));
      } catch (error) {
        (error as { statusCode?: number }).statusCode = 400;
        done(error as Error, undefined);
      }
    },
  );

  app.post(
    '/webhooks/payments',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Payment outcome from the provider (signed; duplicates change nothing)',
        body: PaymentWebhookBody,
        response: { 200: Type.Object({ outcome: Type.String() }), 400: Problem, 401: Problem, 503: Problem },
      },
    },
    async (request) => {
      if (
        !verifyWebhook(
          config.PAYMENT_WEBHOOK_SECRET,
          request.rawBody ?? '',
          request.headers[SIGNATURE_HEADER] as string,
        )
      ) {
        metrics.webhooks.inc({ outcome: 'invalid_signature' });
        throw new BookingErrors.InvalidSignature();
      }
      const { id, type, data } = request.body;
      const outcome = await purchases.applyWebhook({ id, type, payment: data.payment });
      metrics.webhooks.inc({ outcome });
      return { outcome };
    },
  );
}
