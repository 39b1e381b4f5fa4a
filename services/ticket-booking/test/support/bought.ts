import type pg from 'pg';
import { expect } from 'vitest';
import { charges } from './api.ts';

/**
 * A hold bought: the purchase answer says CONFIRMED for `amountCents` and `seatIds`, the store
 * has exactly those seats on the hold, all SOLD, and the provider holds one charge for it,
 * succeeded.
 */
export async function expectBought(
  fx: { pool: pg.Pool; providerUrl: string },
  holdId: string,
  answer: unknown,
  expected: { amountCents: number; seatIds: number[] },
): Promise<void> {
  expect(answer).toMatchObject({ status: 'CONFIRMED', ...expected });
  const { rows } = await fx.pool.query<{ id: string; status: string }>(
    'SELECT id, status FROM booking.seats WHERE hold_id = $1 ORDER BY id',
    [holdId],
  );
  expect(rows.map((r) => ({ id: Number(r.id), status: r.status }))).toEqual(
    [...expected.seatIds].sort((a, b) => a - b).map((id) => ({ id, status: 'SOLD' })),
  );
  expect((await charges(fx.providerUrl, holdId)).map((c) => c.status)).toEqual(['succeeded']);
}
