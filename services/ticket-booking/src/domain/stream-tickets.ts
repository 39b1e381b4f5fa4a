import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * A waiting-room stream ticket: proof, in a query string, that the caller is the user whose
 * position a stream shows. EventSource cannot send an Authorization header, so the authenticated
 * `join` and `status` answers hand one out; without it anyone could watch anyone's place in the
 * queue. Format `<user, base64url>.<expiry, epoch s>.<HMAC-SHA256 over event, user and expiry>`:
 * any instance checks it without Redis, and it never grants a hold (the access token does that).
 */
export interface StreamTickets {
  issue(eventId: string, userId: string, nowMs?: number): string;
  /** The user the ticket was issued to, or undefined when it is forged, expired or for another event. */
  userOf(ticket: string, eventId: string, nowMs?: number): string | undefined;
}

export function streamTickets(secret: string | Uint8Array, ttlS: number): StreamTickets {
  const mac = (eventId: string, user: string, expiry: string) =>
    createHmac('sha256', secret).update(`stream\n${eventId}\n${user}\n${expiry}`).digest();
  return {
    issue(eventId, userId, nowMs = Date.now()) {
      const user = Buffer.from(userId).toString('base64url');
      const expiry = String(Math.floor(nowMs / 1000) + ttlS);
      return `${user}.${expiry}.${mac(eventId, user, expiry).toString('base64url')}`;
    },
    userOf(ticket, eventId, nowMs = Date.now()) {
      const [user, expiry, signature, ...rest] = ticket.split('.');
      if (!user || !expiry || !signature || rest.length > 0 || !/^\d{1,12}$/.test(expiry)) return undefined;
      const given = Buffer.from(signature, 'base64url');
      const expected = mac(eventId, user, expiry);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
      if (Number(expiry) * 1000 <= nowMs) return undefined;
      return Buffer.from(user, 'base64url').toString();
    },
  };
}
