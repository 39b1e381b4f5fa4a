import { Client as Elasticsearch } from '@elastic/elasticsearch';
import { freePort, test } from '@sdlab/testkit';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { describe, expect } from 'vitest';
import { isPostgresUnavailable, isRetriable } from '../src/retry.ts';

// The errors the clients really raise, from real servers (and from a port nobody listens on).
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );

/** What a query on a connection the server has terminated (pg_terminate_backend) throws. */
async function terminatedConnectionFailure(url: string, admin: pg.Pool): Promise<unknown> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    return await failure(client.query('SELECT 1'));
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('isRetriable on what the real clients throw', () => {
  test('nothing listening: pg, fetch, Elasticsearch and kafkajs are all retriable', async () => {
    const port = await freePort();
    const client = new pg.Client({ connectionString: `postgres://x@127.0.0.1:${port}/x` });
    const es = new Elasticsearch({ node: `http://127.0.0.1:${port}`, maxRetries: 0, requestTimeout: 2000 });
    const kafka = new Kafka({
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 1, initialRetryTime: 10, maxRetryTime: 20 },
    });
    const producer = kafka.producer();
    try {
      const errors = {
        pg: await failure(client.connect()),
        fetch: await failure(fetch(`http://127.0.0.1:${port}/`)),
        es: await failure(es.ping()),
        kafka: await failure(producer.connect()),
      };
      expect(errors.es).toBeInstanceOf(Error);
      for (const [name, error] of Object.entries(errors))
        expect([name, isRetriable(error)]).toEqual([name, true]);
    } finally {
      await es.close();
    }
  });

  test('Postgres: a constraint violation is not, a serialization failure and a deadlock are', async ({
    pg: db,
  }) => {
    await db.pool.query('CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL CHECK (v >= 0))');
    await db.pool.query('INSERT INTO t VALUES (1, 0), (2, 0)');
    expect(isRetriable(await failure(db.pool.query('INSERT INTO t VALUES (1, 0)')))).toBe(false);
    expect(isRetriable(await failure(db.pool.query('UPDATE t SET v = -1')))).toBe(false);
    expect(isRetriable(await failure(db.pool.query('SELEC 1')))).toBe(false);

    const a = await db.pool.connect();
    const b = await db.pool.connect();
    try {
      // Write skew under SERIALIZABLE: each reads what the other writes; the second commit fails.
      await a.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      await b.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      await a.query('SELECT sum(v) FROM t');
      await b.query('SELECT sum(v) FROM t');
      await a.query('UPDATE t SET v = v + 1 WHERE id = 1');
      await b.query('UPDATE t SET v = v + 1 WHERE id = 2');
      await a.query('COMMIT');
      const serialization = await failure(b.query('COMMIT'));
      expect(serialization).toMatchObject({ code: '40001' });
      expect(isRetriable(serialization)).toBe(true);
      await b.query('ROLLBACK');

      // Lock order inverted: Postgres picks one of the two as the deadlock victim.
      await a.query('BEGIN');
      await b.query('BEGIN');
      await a.query('UPDATE t SET v = 1 WHERE id = 1');
      await b.query('UPDATE t SET v = 1 WHERE id = 2');
      const outcomes = await Promise.allSettled([
        a.query('UPDATE t SET v = 2 WHERE id = 2'),
        b.query('UPDATE t SET v = 2 WHERE id = 1'),
      ]);
      const deadlock = outcomes.find((o) => o.status === 'rejected')?.reason;
      expect(deadlock).toMatchObject({ code: '40P01' });
      expect(isRetriable(deadlock)).toBe(true);
      await a.query('ROLLBACK');
      await b.query('ROLLBACK');
    } finally {
      a.release();
      b.release();
    }
  });

  test('Postgres: a connection the server terminated is retriable', async ({ pg: db }) => {
    const error = await terminatedConnectionFailure(db.url, db.pool);
    expect(isRetriable(error)).toBe(true);
  });

  test('Elasticsearch: a missing index (404) and a bad request (400) are not retriable', async ({ es }) => {
    const index = es.index('retry');
    expect(isRetriable(await failure(es.client.get({ index, id: 'nope' })))).toBe(false);
    await es.client.indices.create({
      index,
      mappings: { dynamic: 'strict', properties: { a: { type: 'long' } } },
    });
    expect(isRetriable(await failure(es.client.index({ index, document: { b: 1 } })))).toBe(false);
  });
});

describe('isPostgresUnavailable on what pg really throws', () => {
  test('down: nothing listening, a pool that cannot connect in time, a terminated connection', async ({
    pg: db,
  }) => {
    const port = await freePort();
    const refused = await failure(
      new pg.Client({ connectionString: `postgres://x@127.0.0.1:${port}/x` }).connect(),
    );
    expect(isPostgresUnavailable(refused)).toBe(true);

    // A pool whose one connection is taken: the next query times out waiting for it.
    const pool = new pg.Pool({ connectionString: db.url, max: 1, connectionTimeoutMillis: 100 });
    const held = await pool.connect();
    try {
      expect(isPostgresUnavailable(await failure(pool.query('SELECT 1')))).toBe(true);
    } finally {
      held.release();
      await pool.end();
    }

    expect(isPostgresUnavailable(await terminatedConnectionFailure(db.url, db.pool))).toBe(true);
  });

  test('not down: a refused statement, a constraint, a bug', async ({ pg: db }) => {
    await db.pool.query('CREATE TABLE u (id int PRIMARY KEY)');
    await db.pool.query('INSERT INTO u VALUES (1)');
    expect(isPostgresUnavailable(await failure(db.pool.query('INSERT INTO u VALUES (1)')))).toBe(false);
    expect(isPostgresUnavailable(await failure(db.pool.query('SELEC 1')))).toBe(false);
    expect(isPostgresUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(
      false,
    );
  });
});
