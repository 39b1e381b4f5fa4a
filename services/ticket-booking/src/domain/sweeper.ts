import { inTransaction } from '@sdlab/service-kit/postgres';
import type pg from 'pg';
import type { SeatLocks } from './seat-locks.ts';
import { expireEmptyHolds, expireOverdue } from './seat-states.ts';

export interface SweepResult {
  seatsReleased: number;
  holdsExpired: number;
}

/**
 * Tier 2 of hold expiry [004:1129-1130]: HELD seats past their deadline go back to AVAILABLE and
 * their holds become EXPIRED (seat-states.ts), in batches until none is left. The Redis lock has
 * the same TTL and vanishes on its own (tier 1); this catches everything the TTL cannot fix,
 * because the database hold is what blocks a seat.
 */
export async function sweepExpiredHolds(
  pool: pg.Pool,
  locks: SeatLocks,
  batch: number,
): Promise<SweepResult> {
  const result: SweepResult = { seatsReleased: 0, holdsExpired: 0 };
  for (;;) {
    const expired = await inTransaction(pool, (client) => expireOverdue(client, batch));
    result.seatsReleased += expired.seats.length;
    result.holdsExpired += expired.holdsExpired;
    // Locks that outlived their hold (a longer Redis TTL, a clock step) are dropped too.
    const byHold = new Map<string, { eventId: string; seats: number[] }>();
    for (const seat of expired.seats) {
      const entry = byHold.get(seat.holdId) ?? { eventId: seat.eventId, seats: [] };
      entry.seats.push(seat.id);
      byHold.set(seat.holdId, entry);
    }
    await Promise.all(
      [...byHold].map(([holdId, { eventId, seats }]) => locks.release(eventId, seats, holdId).catch(() => 0)),
    );
    if (expired.seats.length < batch) break;
  }
  result.holdsExpired += await expireEmptyHolds(pool, batch);
  return result;
}
