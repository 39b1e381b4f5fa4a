import { fileURLToPath } from 'node:url';
import { connectPostgres, type MigrationLog, runMigrations } from '@sdlab/service-kit/postgres';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type pg from 'pg';
import type { Config } from '../config.ts';

const MIGRATIONS = {
  schema: 'shortener',
  // Resolves the same from src/adapters (dev) and dist/adapters (image): the package root's migrations/.
  dir: fileURLToPath(new URL('../../migrations', import.meta.url)),
  // Several instances start at once (the two-instance test, a rolling deploy); they queue on this lock.
  lockId: 8_081_000_001,
};
export const SCHEMA = MIGRATIONS.schema;

/** Applies the service's pending migrations (start-up, and tests that use the domain without an app). */
export function migrate(pool: pg.Pool, log: MigrationLog): Promise<string[]> {
  return runMigrations({ pool, ...MIGRATIONS, log });
}

declare module 'fastify' {
  interface FastifyInstance {
    pg: pg.Pool;
  }
}

/**
 * The kit's Postgres pool: migrated at start-up, checked by /readyz, ended on shutdown. Its
 * connect timeout (PG_CONNECT_TIMEOUT_MS) is what turns a create while Postgres is down into a
 * 503 within the timeout instead of a wait forever for a connection.
 */
export const postgresAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    app.decorate('pg', await connectPostgres(app, opts.config, MIGRATIONS));
  },
  { name: 'postgres' },
);
