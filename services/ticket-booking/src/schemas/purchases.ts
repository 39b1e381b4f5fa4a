import Type from 'typebox';
import { Timestamp, Uuid } from './common.ts';

export const PurchaseHeaders = Type.Object({
  // Optional here so a request without one gets the 401 of requireToken, not a 400.
  authorization: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  'idempotency-key': Type.String({ minLength: 8, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' }),
});

export const PurchaseBody = Type.Object(
  {
    /** The card to charge; the local provider's test methods force an outcome. */
    paymentMethod: Type.Union(
      [
        Type.Literal('pm_card_visa'),
        Type.Literal('pm_card_approved'),
        Type.Literal('pm_card_declined'),
        Type.Literal('pm_card_timeout'),
        Type.Literal('pm_card_unavailable'),
      ],
      { default: 'pm_card_visa' },
    ),
  },
  { additionalProperties: false },
);

export const PurchaseSchema = Type.Object({
  id: Uuid,
  holdId: Uuid,
  eventId: Uuid,
  status: Type.Union([Type.Literal('PENDING'), Type.Literal('CONFIRMED'), Type.Literal('FAILED')]),
  amountCents: Type.Integer(),
  seatIds: Type.Array(Type.Integer()),
  paymentId: Type.Union([Type.String(), Type.Null()]),
  failureReason: Type.Union([Type.String(), Type.Null()]),
  refundStatus: Type.Union([Type.Literal('NONE'), Type.Literal('PENDING'), Type.Literal('REFUNDED')]),
  createdAt: Timestamp,
});

export const PurchaseIdParams = Type.Object({ purchaseId: Uuid });

/** What the provider posts (its event envelope), as far as this service reads it. */
export const PaymentWebhookBody = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 100 }),
    type: Type.String({ minLength: 1, maxLength: 100 }),
    data: Type.Object(
      {
        payment: Type.Object(
          {
            id: Type.String({ minLength: 1, maxLength: 100 }),
            status: Type.Union([
              Type.Literal('succeeded'),
              Type.Literal('declined'),
              Type.Literal('refunded'),
            ]),
            amountCents: Type.Integer(),
            reference: Type.String({ minLength: 1, maxLength: 128 }),
            declineCode: Type.Union([Type.String(), Type.Null()]),
          },
          { additionalProperties: true },
        ),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);
