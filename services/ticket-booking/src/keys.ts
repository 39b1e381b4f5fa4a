// Every Redis key the service builds. One prefix per deployment (REDIS_KEY_PREFIX). Keys one
// script touches together share a hash tag ({ev:<id>} for an event's seat locks, {wr:<id>} for
// its waiting room), so the scripts stay valid on Redis Cluster.

export interface Keys {
  /** Lock of one seat: value = the hold id that owns it, TTL = the hold's. */
  seatLock(eventId: string, seatId: number): string;
  /** Cached event details (cache-aside). */
  eventDetails(eventId: string): string;
  /** Waiting users, score = arrival sequence (FIFO). */
  queue(eventId: string): string;
  /** Admitted users, score = admission time in ms. */
  admitted(eventId: string): string;
  /** Arrival sequence of the waiting room. */
  queueSeq(eventId: string): string;
  /** An access token that was spent on a hold (value 1, TTL = the token's remaining life). */
  spentAccessToken(eventId: string, tokenId: string): string;
  /** The per-user rate limiter's keys start with it. */
  rateLimitPrefix: string;
  /** BullMQ's own prefix for the maintenance queue. */
  bullPrefix: string;
}

export function createKeys(prefix: string): Keys {
  return {
    seatLock: (eventId, seatId) => `${prefix}{ev:${eventId}}:seat:${seatId}`,
    eventDetails: (eventId) => `${prefix}event:${eventId}`,
    queue: (eventId) => `${prefix}{wr:${eventId}}:queue`,
    admitted: (eventId) => `${prefix}{wr:${eventId}}:admitted`,
    queueSeq: (eventId) => `${prefix}{wr:${eventId}}:seq`,
    spentAccessToken: (eventId, tokenId) => `${prefix}{wr:${eventId}}:spent:${tokenId}`,
    rateLimitPrefix: `${prefix}rl:`,
    bullPrefix: `${prefix}bull`,
  };
}
