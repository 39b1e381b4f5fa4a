import { fileURLToPath } from 'node:url';
import { connectPostgres } from '@sdlab/service-kit/postgres';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import pg from 'pg';
import type { Config } from '../config.ts';

// Resolves the same from src/adapters (dev) and dist/adapters (image): the package root's migrations/.
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
export const SCHEMA = 'adclick';
// The ingest and every aggregator instance start at once; they queue on this lock (see runMigrations).
const LOCK_ID = 8_084_000_001;

declare module 'fastify' {
  interface FastifyInstance {
    pg: pg.Pool;
  }
}

// Counts are bigint in Postgres; they stay far below 2^53, so read them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/** The kit's Postgres pool: migrated at start-up, checked by /readyz, ended on shutdown. */
export const postgresAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const migrations = { schema: SCHEMA, dir: MIGRATIONS_DIR, lockId: LOCK_ID };
    app.decorate('pg', await connectPostgres(app, opts.config, migrations));
  },
  { name: 'postgres' },
);
