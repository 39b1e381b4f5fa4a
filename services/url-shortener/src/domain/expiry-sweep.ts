import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Keys } from '../keys.ts';

export interface SweepResult {
  linksDeleted: number;
  idempotencyKeysDeleted: number;
}

// Oldest expired first, in bounded batches; SKIP LOCKED lets two sweeps (an overlapping run after a
// stall) share the work instead of queueing on the same rows. Stats rows go with their link.
const DELETE_EXPIRED = `WITH doomed AS (
    SELECT code FROM shortener.links
     WHERE expires_at < now() - make_interval(secs => $1)
     ORDER BY expires_at
     LIMIT $2
     FOR UPDATE SKIP LOCKED
  ), gone AS (
    DELETE FROM shortener.links l USING doomed d WHERE l.code = d.code RETURNING l.code
  ), stats AS (
    DELETE FROM shortener.link_stats s USING gone g WHERE s.code = g.code
  )
  SELECT code FROM gone`;

/**
 * Deletes links that expired more than `retentionS` ago (until then they answer 410 Gone; after,
 * 404 and the alias is free again), evicts their cache entries and visitor sketches from Redis,
 * and drops idempotency records past their TTL. Redis is cleaned after the rows are gone: cleaned
 * before, a concurrent cache miss could copy the row back into Redis.
 */
export async function sweepExpired(deps: {
  pool: pg.Pool;
  redis: Redis;
  keys: Keys;
  retentionS: number;
  batchSize: number;
}): Promise<SweepResult> {
  let linksDeleted = 0;
  for (;;) {
    const { rows } = await deps.pool.query<{ code: string }>(DELETE_EXPIRED, [
      deps.retentionS,
      deps.batchSize,
    ]);
    if (rows.length > 0) {
      await deps.redis.unlink(
        ...rows.flatMap(({ code }) => [deps.keys.link(code), deps.keys.visitors(code)]),
      );
      linksDeleted += rows.length;
    }
    if (rows.length < deps.batchSize) break;
  }
  const { rowCount } = await deps.pool.query(
    'DELETE FROM shortener.idempotency_keys WHERE expires_at <= now()',
  );
  return { linksDeleted, idempotencyKeysDeleted: rowCount ?? 0 };
}
