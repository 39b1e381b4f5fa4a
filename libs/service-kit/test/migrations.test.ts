import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { test } from '@sdlab/testkit';
import pg from 'pg';
import { pino } from 'pino';
import { describe, expect } from 'vitest';
import { runMigrations } from '../src/postgres.ts';

const GOOD = fileURLToPath(new URL('./fixtures/migrations/good', import.meta.url));
const BROKEN = fileURLToPath(new URL('./fixtures/migrations/broken', import.meta.url));
const SCHEMA = 'kit';
const LOCK_ID = 8_099_000_001;

/** A real pino logger whose lines the test can read. */
function capturedLog() {
  const lines: { level: number; msg: string; migrations?: string[] }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

const appliedLines = (lines: ReturnType<typeof capturedLog>['lines']) =>
  lines.filter((l) => l.msg === 'migrations applied');

describe('runMigrations (real Postgres)', () => {
  test('applies each migration once, in its schema, and logs what it applied', async ({ pg: db }) => {
    const { log, lines } = capturedLog();
    const options = { pool: db.pool, schema: SCHEMA, dir: GOOD, lockId: LOCK_ID, log };

    expect(await runMigrations(options)).toEqual(['1000000000000_slow-first', '2000000000000_second']);
    expect(await runMigrations(options)).toEqual([]);

    const { rows } = await db.pool.query(`SELECT name FROM ${SCHEMA}.pgmigrations ORDER BY id`);
    expect(rows.map((r) => r.name)).toEqual(['1000000000000_slow-first', '2000000000000_second']);
    const effects = await db.pool.query(`SELECT migration FROM ${SCHEMA}.effects ORDER BY migration`);
    expect(effects.rows.map((r) => r.migration)).toEqual(['first', 'second']);
    expect(appliedLines(lines)).toEqual([
      expect.objectContaining({
        level: 30,
        migrations: ['1000000000000_slow-first', '2000000000000_second'],
      }),
    ]);
  });

  test('two runners started together on one database both succeed; each migration runs once', async ({
    pg: db,
  }) => {
    // Two pools, as two service instances starting at once would have.
    const pools = [new pg.Pool({ connectionString: db.url }), new pg.Pool({ connectionString: db.url })];
    const { log, lines } = capturedLog();
    try {
      const results = await Promise.all(
        pools.map((pool) => runMigrations({ pool, schema: SCHEMA, dir: GOOD, lockId: LOCK_ID, log })),
      );
      // The first to take the lock applied both; the other waited for it, then found nothing to do.
      expect(results.flat().sort()).toEqual(['1000000000000_slow-first', '2000000000000_second']);
      expect(results.map((r) => r.length).sort()).toEqual([0, 2]);
      const effects = await db.pool.query(`SELECT migration FROM ${SCHEMA}.effects ORDER BY migration`);
      expect(effects.rows.map((r) => r.migration)).toEqual(['first', 'second']);
      expect(appliedLines(lines)).toHaveLength(1);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  test('a failing migration is rolled back and the error names it; the lock is released', async ({
    pg: db,
  }) => {
    const { log } = capturedLog();
    const options = { pool: db.pool, schema: SCHEMA, dir: BROKEN, lockId: LOCK_ID, log };

    const failure = await runMigrations(options).then(
      () => {
        throw new Error('expected the migration to fail');
      },
      (error: Error) => error,
    );
    expect(failure.message).toMatch(/^migration 2000000000000_broken \(schema kit\) failed: .*no_such_table/);
    expect((failure.cause as { code?: string }).code).toBe('42P01');

    // The migration before it stays; the failing one left nothing behind, not even its first table.
    const { rows } = await db.pool.query(`SELECT name FROM ${SCHEMA}.pgmigrations ORDER BY id`);
    expect(rows.map((r) => r.name)).toEqual(['1000000000000_fine']);
    const tables = await db.pool.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
      [SCHEMA],
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(['fine', 'pgmigrations']);

    // A second start does not hang on a lock the failed run kept: it gets the lock and fails the same way.
    await expect(runMigrations(options)).rejects.toThrow(/^migration 2000000000000_broken/);
  });
});
