import type { App } from '@sdlab/service-kit';
import { BEARER_SECURITY, requireToken } from '@sdlab/service-kit/auth';
import { perUser } from '../../domain/rate-limit.ts';
import { BookingErrors } from '../../errors.ts';
import { userIdOf } from '../../http/user.ts';
import { Problem, UserHeaders } from '../../schemas/common.ts';
import { HoldIdParams } from '../../schemas/holds.ts';
import { PurchaseBody, PurchaseHeaders, PurchaseIdParams, PurchaseSchema } from '../../schemas/purchases.ts';

export async function purchaseRoutes(app: App): Promise<void> {
  const { purchases, tokens } = app.booking;
  const signedIn = requireToken(tokens);
  const tags = ['purchases'];

  app.post(
    '/holds/:holdId/purchase',
    {
      config: { rateLimit: perUser(userIdOf) },
      preHandler: signedIn,
      schema: {
        security: BEARER_SECURITY,
        tags,
        summary: 'Pay for a hold (saga: charge, then HELD → SOLD; seats released if the charge fails)',
        description:
          '201 confirmed; 200 the same answer again for a retried Idempotency-Key; 202 payment outcome not known yet ' +
          '(retry with the same key, or poll GET /purchases/{id}); 402 declined (seats released); ' +
          '410 the hold expired first (any charge refunded).',
        params: HoldIdParams,
        headers: PurchaseHeaders,
        body: PurchaseBody,
        response: {
          200: PurchaseSchema,
          201: PurchaseSchema,
          202: PurchaseSchema,
          400: Problem,
          401: Problem,
          402: Problem,
          404: Problem,
          409: Problem,
          410: Problem,
          422: Problem,
          429: Problem,
          503: Problem,
        },
      },
    },
    async (request, reply) => {
      const { holdId } = request.params;
      const { purchase, replayed } = await purchases.confirm({
        holdId,
        userId: userIdOf(request),
        idempotencyKey: request.headers['idempotency-key'],
        paymentMethod: request.body.paymentMethod,
      });
      if (replayed) reply.header('idempotent-replayed', 'true');
      if (purchase.status === 'PENDING') return reply.code(202).send(purchase);
      if (purchase.status === 'FAILED') {
        if (purchase.failureReason === 'HOLD_EXPIRED') throw new BookingErrors.HoldExpired(holdId);
        if (purchase.failureReason?.startsWith('PAYMENT_DECLINED'))
          throw new BookingErrors.PaymentDeclined(purchase.failureReason);
        throw new BookingErrors.PurchaseFailed(purchase.failureReason ?? 'unknown');
      }
      return reply.code(replayed ? 200 : 201).send(purchase);
    },
  );

  app.get(
    '/purchases/:purchaseId',
    {
      preHandler: signedIn,
      schema: {
        security: BEARER_SECURITY,
        tags,
        params: PurchaseIdParams,
        headers: UserHeaders,
        response: { 200: PurchaseSchema, 400: Problem, 401: Problem, 404: Problem },
      },
    },
    async (request) => purchases.get(request.params.purchaseId, userIdOf(request)),
  );
}
