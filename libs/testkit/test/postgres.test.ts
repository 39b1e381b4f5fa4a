import { describe, expect } from 'vitest';
import { test } from '../src/index.ts';

describe('PostgreSQL (real server, pg client)', () => {
  test('commits a transaction and rolls back a failed one', async ({ pg }) => {
    await pg.pool.query('CREATE TABLE seats (id int PRIMARY KEY, status text NOT NULL)');
    const client = await pg.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query("INSERT INTO seats VALUES (1, 'AVAILABLE'), (2, 'AVAILABLE')");
      await client.query('COMMIT');

      await client.query('BEGIN');
      await client.query("UPDATE seats SET status = 'HELD' WHERE id = 1");
      await expect(client.query("INSERT INTO seats VALUES (2, 'SOLD')")).rejects.toThrow(/duplicate key/);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    const { rows } = await pg.pool.query('SELECT id, status FROM seats ORDER BY id');
    expect(rows).toEqual([
      { id: 1, status: 'AVAILABLE' },
      { id: 2, status: 'AVAILABLE' },
    ]);
  });

  test('gives each test its own database', async ({ pg }) => {
    const { rows } = await pg.pool.query('SELECT current_database() AS db, to_regclass($1) AS seats', [
      'seats',
    ]);
    expect(rows[0]).toEqual({ db: pg.database, seats: null });
  });
});
