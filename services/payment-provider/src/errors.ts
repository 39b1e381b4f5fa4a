import createError from '@fastify/error';

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
  Unavailable: createError(
    'SDLAB_PAYMENTS_UNAVAILABLE',
    'the processor is unavailable (simulated); nothing was charged, retry with the same Idempotency-Key',
    503,
  ),
};

export function unavailable(): Error {
  const error = new PaymentErrors.Unavailable() as unknown as Error & { retryAfterSeconds: number };
  error.retryAfterSeconds = 1;
  return error;
}
