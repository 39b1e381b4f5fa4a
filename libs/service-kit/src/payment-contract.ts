// The payment provider's charge record as its API and webhooks carry it. The provider
// (services/payment-provider) builds it, the merchant (ticket-booking) reads it; services do not
// import each other's source, so the one definition lives here beside the webhook signature the
// two also share. Types only: each side validates what it receives.

export type PaymentStatus = 'succeeded' | 'declined' | 'refunded';

export interface Payment {
  id: string;
  status: PaymentStatus;
  amountCents: number;
  currency: string;
  /** The merchant's own reference (booking: the hold id). */
  reference: string;
  paymentMethod: string;
  /** Why a declined charge was declined, else null. */
  declineCode: string | null;
  createdAt: string;
  refundedAt: string | null;
}
