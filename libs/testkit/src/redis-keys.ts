import { Redis } from 'ioredis';

/**
 * Unlinks every key under `prefix` on the shared Redis: a test's, a benchmark's or a load run's own
 * namespace, so nothing it wrote outlives it (ad-click dedup keys live 7 days, and every later
 * clean-up's SCAN walks whatever is left). COUNT is large because SCAN walks the whole keyspace
 * whatever matches.
 */
export async function deleteRedisKeys(redis: Redis | string, prefix: string): Promise<number> {
  if (!prefix) throw new Error('deleteRedisKeys: an empty prefix would delete every key');
  const client =
    typeof redis === 'string' ? new Redis(redis, { lazyConnect: true, maxRetriesPerRequest: 1 }) : redis;
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
      if (keys.length) deleted += await client.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    if (typeof redis === 'string') client.disconnect();
  }
  return deleted;
}
