import type { Redis } from 'ioredis';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { migrate } from '../../src/adapters/postgres.ts';
import { IdAllocator } from '../../src/domain/id-allocator.ts';
import { IdHighWater } from '../../src/domain/id-high-water.ts';
import { defineScripts } from '../../src/scripts/index.ts';
import { createServiceMetrics } from '../../src/telemetry.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** The shortener's schema in a test database, for tests that use the domain without an app. */
export async function migrateShortener(pool: pg.Pool): Promise<void> {
  await migrate(pool, quiet);
}

/** The Postgres high-water mark of the ID counter. */
export async function highWaterMark(pool: pg.Pool): Promise<number> {
  return new IdHighWater(pool).read();
}

/**
 * An ID allocator wired as one service instance wires it (src/domain/plugin.ts), with its own
 * metrics and its warn-level log lines captured; the client gets the service's scripts. Not
 * started: call `ids.start()`.
 */
export function idAllocator(options: {
  redis: Redis;
  pool: pg.Pool;
  counterKey: string;
  blockSize?: number;
}) {
  defineScripts(options.redis);
  const metrics = createServiceMetrics(new Registry());
  const warnings: unknown[] = [];
  const ids = new IdAllocator({
    redis: options.redis,
    highWater: new IdHighWater(options.pool),
    counterKey: options.counterKey,
    blockSize: options.blockSize ?? 10,
    refillAt: 0.2,
    metrics,
    log: { warn: (entry: unknown) => warnings.push(entry) },
  });
  return { ids, metrics, warnings };
}

/** `count` values taken one after another (a create takes one at a time). */
export async function take(ids: IdAllocator, count: number): Promise<number[]> {
  const values: number[] = [];
  for (let i = 0; i < count; i++) values.push(await ids.next());
  return values;
}
