import type pg from 'pg';
import { asStoreError } from '../errors.ts';

const READ = 'SELECT high FROM shortener.id_high_water';
const RAISE = 'UPDATE shortener.id_high_water SET high = GREATEST(high, $1) RETURNING high';
// Records a block only if it starts at or past every block recorded before it. Redis hands out
// disjoint blocks in increasing order, so a block that starts below the mark overlaps values an
// instance may already have handed out: Redis was behind when it gave it out.
const CLAIM = 'UPDATE shortener.id_high_water SET high = $2 WHERE high <= $1 RETURNING high';

export type Claim = { claimed: true } | { claimed: false; high: number };

/**
 * The ID counter's durable high-water mark in Postgres (one row): the end of the highest counter
 * block any instance has handed values out of. Written once per block, before its first value is
 * used; read when the Redis counter turns out to be missing or behind.
 */
export class IdHighWater {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async read(): Promise<number> {
    return this.#high(READ, []);
  }

  /** Raises the mark to `value` if it is below (never lowers it); the mark afterwards. */
  async raise(value: number): Promise<number> {
    return this.#high(RAISE, [value]);
  }

  /**
   * Records the block [start, end) as handed out, if no recorded block reaches past `start`.
   * Refused: the values may already be in use, so the block must be skipped; `high` is the mark
   * that refused it.
   */
  async claim(start: number, end: number): Promise<Claim> {
    try {
      const { rowCount } = await this.#pool.query(CLAIM, [start, end]);
      if (rowCount === 1) return { claimed: true };
    } catch (error) {
      throw asStoreError(error);
    }
    return { claimed: false, high: await this.read() };
  }

  async #high(text: string, values: unknown[]): Promise<number> {
    try {
      const { rows } = await this.#pool.query<{ high: string }>(text, values);
      // bigint arrives as a string; counter values stay below 62^7 < 2^53.
      return Number(rows[0]!.high);
    } catch (error) {
      throw asStoreError(error);
    }
  }
}
