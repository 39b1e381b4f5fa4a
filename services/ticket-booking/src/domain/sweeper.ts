import { inTransaction } from '@sdlab/service-kit/postgres';
import type pg from 'pg';
import type { SeatLocks } from './seat-locks.ts';

export interface SweepResult {
  seatsReleased: number;
  holdsExpired: number;
}

/**
 * Tier 2 of hold expiry [004:1129-1130]: HELD seats past their deadline go back to AVAILABLE and
 * their holds become EXPIRED. The Redis lock has the same TTL and vanishes on its own (tier 1);
 * this catches everything the TTL cannot fix, because the database hold is what blocks a seat.
 * SKIP LOCKED: a seat being confirmed right now is left for the next sweep, never waited on,
 * and two sweepers never take the same rows.
 */
export async function sweepExpiredHolds(
  pool: pg.Pool,
  locks: SeatLocks,
  batch: number,
): Promise<SweepResult> {
  const result: SweepResult = { seatsReleased: 0, holdsExpired: 0 };
  for (;;) {
    const released = await inTransaction(pool, async (client) => {
      const { rows } = await client.query<{ id: string; event_id: string; hold_id: string }>(
        `WITH expired AS (
           SELECT id, hold_id FROM booking.seats
           WHERE status = 'HELD' AND held_until < now()
           ORDER BY held_until LIMIT $1 FOR UPDATE SKIP LOCKED)
         UPDATE booking.seats s SET status = 'AVAILABLE', hold_id = NULL, held_until = NULL
         FROM expired WHERE s.id = expired.id
         RETURNING s.id, s.event_id, expired.hold_id`,
        [batch],
      );
      const holdIds = [...new Set(rows.map((r) => r.hold_id))];
      // SKIP LOCKED here too: a hold row is locked by a confirm or a settle that may be waiting
      // for these very seats; waiting for it would be a deadlock. A skipped hold is caught below
      // on a later pass (or settled as expired by the purchase that holds it).
      const holds = holdIds.length
        ? await client.query(
            `UPDATE booking.holds SET status = 'EXPIRED', updated_at = now()
             WHERE id IN (SELECT id FROM booking.holds
                          WHERE id = ANY($1::uuid[]) AND status IN ('ACTIVE', 'CONFIRMING')
                          FOR UPDATE SKIP LOCKED)`,
            [holdIds],
          )
        : { rowCount: 0 };
      return { rows, holdsExpired: holds.rowCount ?? 0 };
    });
    result.seatsReleased += released.rows.length;
    result.holdsExpired += released.holdsExpired;
    // Locks that outlived their hold (a longer Redis TTL, a clock step) are dropped too.
    const byHold = new Map<string, { eventId: string; seats: number[] }>();
    for (const r of released.rows) {
      const entry = byHold.get(r.hold_id) ?? { eventId: r.event_id, seats: [] };
      entry.seats.push(Number(r.id));
      byHold.set(r.hold_id, entry);
    }
    await Promise.all(
      [...byHold].map(([holdId, { eventId, seats }]) => locks.release(eventId, seats, holdId).catch(() => 0)),
    );
    if (released.rows.length < batch) break;
  }
  // Holds past their deadline that no longer hold a seat (skipped above while locked).
  const stragglers = await pool.query(
    `UPDATE booking.holds SET status = 'EXPIRED', updated_at = now()
     WHERE id IN (SELECT h.id FROM booking.holds h
                  WHERE h.status IN ('ACTIVE', 'CONFIRMING') AND h.expires_at < now()
                    AND NOT EXISTS (SELECT 1 FROM booking.seats s WHERE s.hold_id = h.id AND s.status = 'HELD')
                  LIMIT $1 FOR UPDATE SKIP LOCKED)`,
    [batch],
  );
  result.holdsExpired += stragglers.rowCount ?? 0;
  return result;
}
