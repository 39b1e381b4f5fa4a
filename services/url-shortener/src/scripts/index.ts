import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

// Loads every `<verbNoun>-<keyCount>.lua` beside this file once per client through defineCommand,
// which runs them by SHA (EVALSHA) and falls back to EVAL after a Redis restart.
const DIR = fileURLToPath(new URL('.', import.meta.url));
const NAME = /^([a-z][A-Za-z]*)-(\d+)\.lua$/;

export const SCRIPT_NAMES = readdirSync(DIR)
  .filter((file) => NAME.test(file))
  .map((file) => file.replace(/\.lua$/, ''));

export function defineScripts(redis: Redis): void {
  for (const file of readdirSync(DIR)) {
    const match = file.match(NAME);
    if (!match) continue;
    redis.defineCommand(match[1]!, {
      numberOfKeys: Number(match[2]),
      lua: readFileSync(`${DIR}${file}`, 'utf8'),
    });
  }
}

interface ScriptCommands {
  getWithTtl(key: string): Promise<[string | null, number]>;
  reserveIdBlock(key: string, size: number, floor: number): Promise<number>;
  reseedIdCounter(key: string, size: number, floor: number): Promise<[number, string | null]>;
}

/** reserveIdBlock's reply when the counter is below the caller's floor. */
const COUNTER_BEHIND = -1;

/** The cached value (null when absent) and its remaining lifetime in ms. */
export async function getWithTtl(redis: Redis, key: string): Promise<{ value: string | null; pttl: number }> {
  const [value, pttl] = await (redis as unknown as ScriptCommands).getWithTtl(key);
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
  const end = await (redis as unknown as ScriptCommands).reserveIdBlock(key, size, floor);
  return end === COUNTER_BEHIND ? undefined : end;
}

/** Raises the ID counter to `floor` if it is missing or below, then reserves a block. */
export async function reseedIdCounter(
  redis: Redis,
  key: string,
  size: number,
  floor: number,
): Promise<{ end: number; before: number | null }> {
  const [end, before] = await (redis as unknown as ScriptCommands).reseedIdCounter(key, size, floor);
  return { end, before: before == null ? null : Number(before) };
}
