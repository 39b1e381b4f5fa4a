import { fileURLToPath } from 'node:url';
import type { FastifyBaseLogger } from 'fastify';
import { runner } from 'node-pg-migrate';
import type pg from 'pg';

// Resolves the same from src/adapters (dev) and dist/adapters (image): the package root's migrations/.
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
export const SCHEMA = 'chat';
// node-pg-migrate's default lock id is shared by every user of the library; our own keeps another
// service's migrations on the same database from queueing behind ours.
const LOCK_ID = 8_083_000_001;

/**
 * Applies pending migrations at start-up. Two gateway instances start at once (the guarantee
 * tests, a rolling deploy): `wait` makes the second queue on the advisory lock instead of failing.
 */
export async function migrate(pool: pg.Pool, log: FastifyBaseLogger): Promise<void> {
  const client = await pool.connect();
  try {
    const applied = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      schema: SCHEMA,
      createSchema: true,
      migrationsSchema: SCHEMA,
      migrationsTable: 'pgmigrations',
      direction: 'up',
      lockValue: LOCK_ID,
      advisoryLockMode: 'wait',
      logger: {
        debug: (msg: string) => log.debug(msg),
        info: (msg: string) => log.debug(msg),
        warn: (msg: string) => log.warn(msg),
        error: (msg: string) => log.error(msg),
      },
    });
    if (applied.length) log.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
  } finally {
    client.release();
  }
}
