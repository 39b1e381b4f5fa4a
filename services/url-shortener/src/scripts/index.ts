import { loadLuaScripts } from '@sdlab/service-kit/redis-scripts';
import type { ClientContext, Redis, Result } from 'ioredis';

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    getWithTtl(key: string): Result<[string | null, number], Context>;
    reserveIdBlock(key: string, size: number, floor: number): Result<number, Context>;
    reseedIdCounter(key: string, size: number, floor: number): Result<[number, string | null], Context>;
  }
}

// Every `<verbNoun>-<keyCount>.lua` beside this file, through the kit's loader.
const scripts = loadLuaScripts(new URL('./', import.meta.url), [
  'getWithTtl',
  'reseedIdCounter',
  'reserveIdBlock',
]);

/** Registers the scripts on a client (once per client). */
export const defineScripts = scripts.define;
/** The script files, `<verbNoun>-<keyCount>`. */
export const SCRIPT_NAMES = scripts.list.map((s) => s.file);

/** reserveIdBlock's reply when the counter is below the caller's floor. */
const COUNTER_BEHIND = -1;

/** The cached value (null when absent) and its remaining lifetime in ms. */
export async function getWithTtl(redis: Redis, key: string): Promise<{ value: string | null; pttl: number }> {
  const [value, pttl] = await redis.getWithTtl(key);
  return { value: value ?? null, pttl };
}

/**
 * INCRBY `size` on the ID counter unless it is below `floor`: the block's end, or undefined when
 * the counter is behind (missing counts as 0) and must be reseeded first.
 */
export async function reserveIdBlock(
  redis: Redis,
  key: string,
  size: number,
  floor: number,
): Promise<number | undefined> {
  const end = await redis.reserveIdBlock(key, size, floor);
  return end === COUNTER_BEHIND ? undefined : end;
}

/** Raises the ID counter to `floor` if it is missing or below, then reserves a block. */
export async function reseedIdCounter(
  redis: Redis,
  key: string,
  size: number,
  floor: number,
): Promise<{ end: number; before: number | null }> {
  const [end, before] = await redis.reseedIdCounter(key, size, floor);
  return { end, before: before == null ? null : Number(before) };
}
