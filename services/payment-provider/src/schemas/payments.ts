import Type from 'typebox';
import { PAYMENT_METHODS } from '../domain/behaviour.ts';

export const IdempotencyKeyHeader = Type.Object({
  'idempotency-key': Type.String({ minLength: 8, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' }),
});

export const ChargeBody = Type.Object(
  {
    amountCents: Type.Integer({ minimum: 1, maximum: 100_000_000 }),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    /** The merchant's own reference (the booking service sends its hold id). */
    reference: Type.String({ minLength: 1, maxLength: 128 }),
    paymentMethod: Type.Union(
      PAYMENT_METHODS.map((m) => Type.Literal(m)),
      { default: 'pm_card_visa' },
    ),
  },
  { additionalProperties: false },
);

export const PaymentSchema = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('succeeded'), Type.Literal('declined'), Type.Literal('refunded')]),
  amountCents: Type.Integer(),
  currency: Type.String(),
  reference: Type.String(),
  paymentMethod: Type.String(),
  declineCode: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  refundedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const PaymentIdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^pay_[A-Za-z0-9_-]+$' }),
});

export const ListQuery = Type.Object(
  {
    reference: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    idempotencyKey: Type.Optional(Type.String({ minLength: 8, maxLength: 128 })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  },
  { additionalProperties: false },
);

export { ProblemSchema as Problem } from '@sdlab/service-kit';
