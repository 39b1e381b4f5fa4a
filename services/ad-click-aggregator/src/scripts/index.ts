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
  updateTopK(key: string, ttlSeconds: number, ...scoreMembers: (string | number)[]): Promise<number>;
}

/** Raises scores in an existing top-K set; false when the set does not exist (nothing written). */
export async function updateTopK(
  redis: Redis,
  key: string,
  ttlSeconds: number,
  entries: { adId: string; clicks: number }[],
): Promise<boolean> {
  const args = entries.flatMap((e) => [e.clicks, e.adId]);
  return (await (redis as unknown as ScriptCommands).updateTopK(key, ttlSeconds, ...args)) === 1;
}
