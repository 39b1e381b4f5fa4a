import { randomUUID } from 'node:crypto';
import { waitFor } from '@sdlab/testkit';
import type pg from 'pg';
import { expect } from 'vitest';
import { user } from './auth.ts';

export interface BuyerReport {
  counts: Record<string, number>;
  /** Purchase ids the clients were told are confirmed. */
  confirmed: Set<string>;
  /** Responses that were neither a success nor a coded problem+json. */
  unexpected: string[];
}

/**
 * Buyers racing for a few seats: single and multi-seat holds, then a confirm (sometimes sent
 * twice at once with the same key), a cancel, or nothing (the hold is left to expire).
 * `afterEach` runs after each buyer finishes (the Redis-down test kills Redis from it).
 */
export async function runBuyers(options: {
  urls: string[];
  eventId: string;
  seatIds: number[];
  buyers: number;
  afterEach?: (done: number) => Promise<void> | void;
}): Promise<BuyerReport> {
  const { urls, eventId, seatIds } = options;
  const counts: Record<string, number> = {};
  const bump = (k: string) => {
    counts[k] = (counts[k] ?? 0) + 1;
  };
  const confirmed = new Set<string>();
  const unexpected: string[] = [];
  let done = 0;

  async function call(url: string, init: RequestInit & { headers: Record<string, string> }) {
    const json = init.body === undefined ? {} : { 'content-type': 'application/json' };
    const res = await fetch(url, { ...init, headers: { ...json, ...init.headers } });
    // biome-ignore lint/suspicious/noExplicitAny: response bodies of several shapes, read loosely
    const body: any = await res.json().catch(() => ({}));
    if (res.status >= 400) {
      const coded =
        res.headers.get('content-type')?.includes('application/problem+json') &&
        String(body.code).startsWith('SDLAB_');
      if (!coded) unexpected.push(`${init.method} ${url} ${res.status} ${JSON.stringify(body)}`);
      bump(`status_${res.status}_${body.code ?? 'none'}`);
    }
    return { status: res.status, body };
  }

  async function buyer(i: number) {
    const base = urls[i % urls.length]!;
    const userId = `buyer-${i}`;
    const auth = await user(userId);
    const size = Math.random() < 0.6 ? 1 : 2 + Math.floor(Math.random() * 3);
    const start = Math.floor(Math.random() * (seatIds.length - size + 1));
    const wanted = seatIds.slice(start, start + size);
    const hold = await call(`${base}/events/${eventId}/holds`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ seatIds: wanted }),
    });
    if (hold.status !== 201) {
      bump('holdsRefused');
      return;
    }
    bump('holdsOk');
    const holdId = hold.body.hold.id as string;
    const action = Math.random();
    if (action < 0.6) {
      const key = randomUUID();
      const confirm = () =>
        call(`${urls[(i + 1) % urls.length]}/holds/${holdId}/purchase`, {
          method: 'POST',
          headers: { ...auth, 'idempotency-key': key },
          body: JSON.stringify({ paymentMethod: 'pm_card_visa' }),
        });
      // One in five buyers double-clicks: two confirms with the same key, at once, on both instances.
      const responses = Math.random() < 0.2 ? await Promise.all([confirm(), confirm()]) : [await confirm()];
      if (responses.length === 2) bump('doubleConfirms');
      for (const r of responses) {
        if ((r.status === 200 || r.status === 201) && r.body.status === 'CONFIRMED') confirmed.add(r.body.id);
        bump(`confirm_${r.status}`);
      }
    } else if (action < 0.8) {
      const cancel = await call(`${base}/holds/${holdId}`, {
        method: 'DELETE',
        headers: auth,
      });
      bump(cancel.status === 200 ? 'cancels' : 'cancelsRefused');
    } else {
      bump('leftHeld');
    }
  }

  await Promise.all(
    Array.from({ length: options.buyers }, async (_, i) => {
      try {
        await buyer(i);
      } catch (error) {
        unexpected.push(`buyer ${i}: ${(error as Error).message}`);
      } finally {
        done++;
        await options.afterEach?.(done);
      }
    }),
  );
  return { counts, confirmed, unexpected };
}

/**
 * The guarantees, checked on the stored data: every seat in exactly one state, no seat sold
 * twice, the sold seats exactly those of the confirmed purchases, and exactly one un-refunded
 * charge at the provider per confirmed purchase (and none for anything else).
 */
export async function checkInvariants(
  pool: pg.Pool,
  eventId: string,
  seatCount: number,
  report?: BuyerReport,
) {
  const { rows: seats } = await pool.query<{
    id: string;
    status: string;
    purchase_id: string | null;
    hold_id: string | null;
  }>('SELECT id, status, purchase_id, hold_id FROM booking.seats WHERE event_id = $1', [eventId]);
  const by = (s: string) => seats.filter((r) => r.status === s).length;
  const sold = by('SOLD');
  const held = by('HELD');
  const available = by('AVAILABLE');
  expect(sold + held + available).toBe(seatCount);
  expect(seats).toHaveLength(seatCount);

  const { rows: purchases } = await pool.query<{
    id: string;
    hold_id: string;
    status: string;
    seat_ids: string[];
    refund_status: string;
  }>(
    `SELECT p.id, p.hold_id, p.status, h.seat_ids, p.refund_status
     FROM booking.purchases p JOIN booking.holds h ON h.id = p.hold_id WHERE p.event_id = $1`,
    [eventId],
  );
  const confirmed = purchases.filter((p) => p.status === 'CONFIRMED');
  // No seat is in two confirmed purchases, and the sold seats are exactly theirs.
  const soldByPurchases = confirmed.flatMap((p) => p.seat_ids.map(String));
  expect(new Set(soldByPurchases).size).toBe(soldByPurchases.length);
  expect(new Set(soldByPurchases)).toEqual(
    new Set(seats.filter((s) => s.status === 'SOLD').map((s) => s.id)),
  );
  for (const p of confirmed) {
    for (const seatId of p.seat_ids) {
      expect(seats.find((s) => s.id === String(seatId))?.purchase_id).toBe(p.id);
    }
  }
  // Held seats belong to holds still open.
  const { rows: openHolds } = await pool.query<{ id: string }>(
    `SELECT id FROM booking.holds WHERE event_id = $1 AND status IN ('ACTIVE', 'CONFIRMING')`,
    [eventId],
  );
  const open = new Set(openHolds.map((h) => h.id));
  expect(seats.filter((s) => s.status === 'HELD').every((s) => open.has(s.hold_id!))).toBe(true);
  // No seat is claimed by two holds that still claim it (open and not past their deadline, or
  // confirmed): the hold rows agree with the seat rows, whichever statement wrote them.
  const { rows: doubleClaims } = await pool.query<{ seat: string; holds: number }>(
    `SELECT seat, count(*)::int AS holds FROM (
       SELECT unnest(seat_ids) AS seat FROM booking.holds
       WHERE event_id = $1
         AND (status = 'CONFIRMED' OR (status IN ('ACTIVE', 'CONFIRMING') AND expires_at > now()))) claims
     GROUP BY seat HAVING count(*) > 1`,
    [eventId],
  );
  expect(doubleClaims).toEqual([]);
  // Every open hold's seats are HELD by it: a hold row was never written for seats it did not get.
  const { rows: orphanClaims } = await pool.query<{ hold_id: string }>(
    `SELECT h.id AS hold_id FROM booking.holds h
     CROSS JOIN LATERAL unnest(h.seat_ids) AS claim(seat)
     LEFT JOIN booking.seats s ON s.id = claim.seat AND s.hold_id = h.id AND s.status IN ('HELD', 'SOLD')
     WHERE h.event_id = $1 AND h.status IN ('ACTIVE', 'CONFIRMING', 'CONFIRMED') AND h.expires_at > now()
       AND s.id IS NULL`,
    [eventId],
  );
  expect(orphanClaims).toEqual([]);
  // What clients were told is what is stored.
  for (const id of report?.confirmed ?? []) expect(confirmed.some((p) => p.id === id)).toBe(true);

  // The provider's records: one charge per hold at most, and the kept charges = confirmed purchases.
  const holdIds = purchases.map((p) => p.hold_id);
  const { rows: charges } = await pool.query<{ reference: string; status: string }>(
    'SELECT reference, status FROM payments.payments WHERE reference = ANY($1)',
    [holdIds],
  );
  const perHold = new Map<string, number>();
  for (const c of charges) perHold.set(c.reference, (perHold.get(c.reference) ?? 0) + 1);
  expect([...perHold.values()].every((n) => n === 1)).toBe(true);
  const kept = charges
    .filter((c) => c.status === 'succeeded')
    .map((c) => c.reference)
    .sort();
  expect(kept).toEqual(confirmed.map((p) => p.hold_id).sort());
  const refunded = charges.filter((c) => c.status === 'refunded').length;
  return {
    sold,
    held,
    available,
    purchasesConfirmed: confirmed.length,
    purchasesFailed: purchases.filter((p) => p.status === 'FAILED').length,
    charges: charges.length,
    chargesKept: kept.length,
    chargesRefunded: refunded,
  };
}

/** Hold conflicts by layer, lock bypasses and webhook outcomes, summed over instances (from /metrics). */
export async function conflictLayers(urls: string[]): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const m of text.matchAll(
      /^sdlab_booking_(hold_conflicts_total\{layer="(\w+)"|payment_webhooks_total\{outcome="(\w+)"|lock_bypass_total)[^ ]* (\d+)/gm,
    )) {
      const key = m[2] ?? (m[3] ? `webhook_${m[3]}` : 'lock_bypass');
      totals[key] = (totals[key] ?? 0) + Number(m[4]);
    }
  }
  return totals;
}

/** Waits until no purchase is PENDING: every charge answered or settled by its webhook. */
export async function waitAllSettled(pool: pg.Pool): Promise<void> {
  await waitFor('every purchase to be settled', async () => {
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM booking.purchases WHERE status = 'PENDING'`,
    );
    return rows[0]!.n === 0;
  });
}
