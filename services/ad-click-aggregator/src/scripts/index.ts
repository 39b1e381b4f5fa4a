import { loadLuaScripts } from '@sdlab/service-kit/redis-scripts';
import type { ClientContext, Redis, Result } from 'ioredis';

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    updateTopK(key: string, ttlSeconds: number, ...scoreMembers: (string | number)[]): Result<0 | 1, Context>;
    /** `numberOfKeys`, the keys, then the TTL: one 1 (set now, a first click) or 0 per key. */
    markFirstClicks(numberOfKeys: number, ...keysThenTtl: (string | number)[]): Result<(0 | 1)[], Context>;
  }
}

// Every `<verbNoun>-<keyCount>.lua` beside this file, through the kit's loader.
const scripts = loadLuaScripts(new URL('./', import.meta.url), ['markFirstClicks', 'updateTopK']);

/** Registers the scripts on a client (once per client). */
export const defineScripts = scripts.define;
/** The script files, `<verbNoun>-<keyCount>`. */
export const SCRIPT_NAMES = scripts.list.map((s) => s.file);

/** Raises scores in an existing top-K set; false when the set does not exist (nothing written). */
export async function updateTopK(
  redis: Redis,
  key: string,
  ttlSeconds: number,
  entries: { adId: string; clicks: number }[],
): Promise<boolean> {
  const args = entries.flatMap((e) => [e.clicks, e.adId]);
  return (await redis.updateTopK(key, ttlSeconds, ...args)) === 1;
}
