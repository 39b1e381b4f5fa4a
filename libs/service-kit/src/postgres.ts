import type { FastifyBaseLogger } from 'fastify';
import { runner } from 'node-pg-migrate';
import type pg from 'pg';

/** What the runner logs through: a service's pino (or Fastify) logger. */
export type MigrationLog = Pick<FastifyBaseLogger, 'debug' | 'info' | 'warn' | 'error'>;

export interface MigrationOptions {
  pool: pg.Pool;
  /** The service's schema: created if missing, and home of its `pgmigrations` table. */
  schema: string;
  /** Absolute path of the service's `migrations/` folder. */
  dir: string;
  /**
   * The service's own advisory lock id. node-pg-migrate's default is shared by every user of the
   * library, so another service migrating the same database would queue behind this one.
   */
  lockId: number;
  log: MigrationLog;
}

/**
 * Runs `fn` on a client checked out of the pool. A checked-out client has no 'error' listener
 * (the pool removes its own on checkout), so a server crash mid-transaction would otherwise be an
 * uncaught exception that takes the whole process down; here it only fails `fn`. A client that
 * saw any error is destroyed rather than returned to the pool half-way through a transaction.
 */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  const onError = (error: Error) => {
    failure ??= error;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } catch (error) {
    failure ??= error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(failure);
  }
}

const MIGRATION_STARTED = /^### MIGRATION (.+) \(UP\) ###$/;

/**
 * Applies pending migrations at start-up and returns the names it applied. Instances that start
 * together (a rolling deploy, the multi-instance tests) queue on the advisory lock (`wait`)
 * instead of failing. Each migration runs in its own transaction: a failing one is rolled back,
 * the ones before it stay, and the promise rejects with an error naming it. The client is then
 * destroyed, not returned: node-pg-migrate leaves it inside the aborted transaction, still
 * holding the session's advisory lock.
 */
export async function runMigrations(options: MigrationOptions): Promise<string[]> {
  const { pool, schema, dir, lockId, log } = options;
  // node-pg-migrate reports which migration it is on only through its logger.
  let current: string | undefined;
  const applied = await withClient(pool, (client) =>
    runner({
      dbClient: client,
      dir,
      schema,
      createSchema: true,
      migrationsSchema: schema,
      migrationsTable: 'pgmigrations',
      direction: 'up',
      lockValue: lockId,
      advisoryLockMode: 'wait',
      logger: {
        debug: (msg: string) => log.debug(msg),
        info: (msg: string) => {
          current = MIGRATION_STARTED.exec(msg)?.[1] ?? current;
          log.debug(msg);
        },
        warn: (msg: string) => log.warn(msg),
        error: (msg: string) => log.error(msg),
      },
    }),
  ).catch((error: unknown) => {
    if (current === undefined) throw error;
    throw new Error(`migration ${current} (schema ${schema}) failed: ${(error as Error).message}`, {
      cause: error,
    });
  });
  const names = applied.map((m) => m.name);
  if (names.length) log.info({ migrations: names }, 'migrations applied');
  return names;
}
