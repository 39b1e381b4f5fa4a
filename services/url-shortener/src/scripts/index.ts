import { loadLuaScripts } from '@sdlab/service-kit/redis-scripts';
import type { ClientContext, Redis, Result } from 'ioredis';

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    addVisitors(numKeys: number, ...keysThenArgs: (string | number)[]): Result<number, Context>;
    getWithTtl(key: string): Result<[string | null, number], Context>;
    reserveIdBlock(key: string, size: number, floor: number): Result<number, Context>;
    reseedIdCounter(key: string, size: number, floor: number): Result<[number, string | null], Context>;
  }
}

// Every `<verbNoun>-<keyCount>.lua` beside this file, through the kit's loader.
const scripts = loadLuaScripts(new URL('./', import.meta.url), [
  'addVisitors',
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

/** Links per addVisitors call: one call blocks Redis while it runs, so a large batch is cut up. */
const VISITOR_LINKS_PER_CALL = 500;

/**
 * PFADD of each key's visitor ids, many keys per script call (all calls in one pipeline). Keys
 * with no ids are skipped. Rejects with the first failed call's error.
 */
export async function addVisitors(
  redis: Redis,
  visitors: ReadonlyMap<string, Iterable<string>>,
): Promise<void> {
  const pipeline = redis.pipeline();
  let keys: string[] = [];
  let args: string[] = [];
  const call = () => {
    if (keys.length) pipeline.addVisitors(keys.length, ...keys, ...args);
    keys = [];
    args = [];
  };
  for (const [key, ids] of visitors) {
    const list = [...ids];
    if (list.length === 0) continue;
    keys.push(key);
    args.push(String(list.length), ...list);
    if (keys.length >= VISITOR_LINKS_PER_CALL) call();
  }
  call();
  if (pipeline.length === 0) return;
  const results = await pipeline.exec();
  const failed = results?.find(([error]) => error);
  if (failed) throw failed[0];
}
