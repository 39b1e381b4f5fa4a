import type pg from 'pg';

/** The stored statuses of `seatIds`, in id order. */
export async function seatStatuses(pool: pg.Pool, seatIds: number[]): Promise<string[]> {
  const { rows } = await pool.query<{ status: string }>(
    'SELECT status FROM booking.seats WHERE id = ANY($1) ORDER BY id',
    [seatIds],
  );
  return rows.map((r) => r.status);
}
