import { test as base } from '@sdlab/testkit';
import pg from 'pg';
import { describe, expect } from 'vitest';
import { inTransaction } from '../src/postgres.ts';

interface SingleConnection {
  pool: pg.Pool;
  /** The backend pid of the pool's connection: the same one was kept, a new one replaced it. */
  pid(): Promise<number>;
  /** The rows of `items`, read outside any transaction. */
  ids(): Promise<number[]>;
}

/** A pool of one connection on the test's database, with a table `items`; ended after the test. */
const test = base.extend<{ single: SingleConnection }>({
  single: async ({ pg: db }, use) => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    await pool.query('CREATE TABLE items (id int PRIMARY KEY)');
    try {
      await use({
        pool,
        pid: async () => (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid,
        ids: async () =>
          (await pool.query<{ id: number }>('SELECT id FROM items ORDER BY id')).rows.map((r) => r.id),
      });
    } finally {
      await pool.end();
    }
  },
});

describe('inTransaction (real Postgres)', () => {
  test('commits what fn wrote and returns its value', async ({ single: { pool, ids } }) => {
    const value = await inTransaction(pool, async (client) => {
      await client.query('INSERT INTO items VALUES (1), (2)');
      return 'done';
    });
    expect(value).toBe('done');
    expect(await ids()).toEqual([1, 2]);
  });

  test('rolls back when fn throws: the row is absent, the error is rethrown, the connection is kept', async ({
    single: { pool, pid, ids },
  }) => {
    const before = await pid();
    // The failing statement aborts the transaction: without the ROLLBACK, the kept connection
    // would refuse the next query (25P02).
    const failure = inTransaction(pool, async (client) => {
      await client.query('INSERT INTO items VALUES (1)');
      await client.query('INSERT INTO items VALUES (1)');
    });
    await expect(failure).rejects.toMatchObject({ code: '23505' });
    expect(await ids()).toEqual([]);
    expect(await pid()).toBe(before);
  });

  test('a connection the server ended mid-transaction fails fn and is discarded, not reused', async ({
    pg: db,
    single: { pool, pid, ids },
  }) => {
    const before = await pid();
    const failure = inTransaction(pool, async (client) => {
      await client.query('INSERT INTO items VALUES (1)');
      // Not events.once: it would listen for 'error' itself.
      const ended = new Promise((resolve) => client.once('end', resolve));
      await db.pool.query('SELECT pg_terminate_backend($1)', [before]);
      // The client now emits 'error' with no query running: unhandled, an uncaught exception.
      await ended;
      await client.query('INSERT INTO items VALUES (2)');
    });
    await expect(failure).rejects.toThrow();
    expect(pool.totalCount).toBe(0);
    expect(await ids()).toEqual([]);
    expect(await pid()).not.toBe(before);
  });
});
