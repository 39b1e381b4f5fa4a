import type { App } from '@sdlab/service-kit';
import { user } from './auth.ts';

/** Holds `seatIds` for `userId` through the API; throws unless the hold was created. */
export async function hold(app: App, eventId: string, userId: string, seatIds: number[]): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: `/events/${eventId}/holds`,
    headers: await user(userId),
    payload: { seatIds },
  });
  if (res.statusCode !== 201) throw new Error(`hold: ${res.statusCode} ${res.body}`);
  return res.json().hold.id as string;
}

/** `POST /holds/{holdId}/purchase` for `userId` under Idempotency-Key `key`. */
export async function purchase(
  app: App,
  holdId: string,
  userId: string,
  key: string,
  paymentMethod = 'pm_card_visa',
) {
  return app.inject({
    method: 'POST',
    url: `/holds/${holdId}/purchase`,
    headers: { ...(await user(userId)), 'idempotency-key': key },
    payload: { paymentMethod },
  });
}

/** The payment provider's charges whose reference is `reference` (a hold id). */
export async function charges(providerUrl: string, reference: string) {
  const res = await fetch(`${providerUrl}/payments?reference=${reference}`);
  return ((await res.json()) as { data: { id: string; status: string; amountCents: number }[] }).data;
}

/** `POST /events/{eventId}/waiting-room/join` for `userId`; the answer's body. */
export async function joinWaitingRoom(app: App, eventId: string, userId: string) {
  const res = await app.inject({
    method: 'POST',
    url: `/events/${eventId}/waiting-room/join`,
    headers: await user(userId),
  });
  return res.json();
}
