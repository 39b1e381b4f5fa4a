import createError from '@fastify/error';
import { createUnavailableError } from '@sdlab/service-kit';

// The provider's coded errors; the kit renders each as problem+json with its code and status.
export const PaymentErrors = {
  IdempotencyKeyReused: createError(
    'SDLAB_PAYMENTS_IDEMPOTENCY_KEY_REUSED',
    'Idempotency-Key was already used for a different charge',
    422,
  ),
  NotFound: createError('SDLAB_PAYMENTS_NOT_FOUND', 'no payment with id "%s"', 404),
  NotRefundable: createError(
    'SDLAB_PAYMENTS_NOT_REFUNDABLE',
    'payment "%s" is %s; only succeeded payments can be refunded',
    409,
  ),
  Unavailable: createUnavailableError(
    'SDLAB_PAYMENTS_UNAVAILABLE',
    'the processor is unavailable (simulated); nothing was charged, retry with the same Idempotency-Key',
  ),
};
