import type { ClientContext, Redis, Result } from 'ioredis';
import { readScripts, SCRIPT_NAMES, type ScriptName } from './loader.ts';

/**
 * One script that decides a whole batch in one EVALSHA: every algorithm's own script, wrapped as
 * a local function (their `KEYS`/`ARGV` become its parameters and their `return` returns from
 * it), and a loop that calls the right one per check. A batch is then one round trip and one
 * script run instead of one per check, and each check is decided by exactly the code a single
 * check runs, so a batched decision is as exact as a single one. The whole batch runs atomically.
 * (All keys of a batch are passed as KEYS, so in a Redis Cluster they must share a hash slot.)
 */
function batchLua(): string {
  const bodies = new Map(readScripts().map((s) => [s.name, s.lua]));
  const functions = SCRIPT_NAMES.map(
    (name) => `local function ${name}(KEYS, ARGV)\n${bodies.get(name)}\nend`,
  );
  return [
    ...functions,
    `local byIndex = { ${SCRIPT_NAMES.join(', ')} }`,
    // ARGV: per check, 6 values: algorithm index (1-based, SCRIPT_NAMES order), then the five
    // arguments every script takes. Reply: per check 4 integers; a negative first one is the
    // script's error code.
    'local reply = {}',
    'for i = 1, #KEYS do',
    '  local a = (i - 1) * 6',
    '  local decide = byIndex[tonumber(ARGV[a + 1])]',
    '  local r = decide({ KEYS[i] }, { ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6] })',
    "  if type(r) == 'number' then",
    '    reply[#reply + 1] = r; reply[#reply + 1] = 0; reply[#reply + 1] = 0; reply[#reply + 1] = 0',
    '  else',
    '    reply[#reply + 1] = r[1]; reply[#reply + 1] = r[2]; reply[#reply + 1] = r[3]; reply[#reply + 1] = r[4]',
    '  end',
    'end',
    'return reply',
  ].join('\n');
}

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    /** `rateLimitBatch(n, ...n keys, ...6n arguments)`: 4 integers per check (see batch.ts). */
    rateLimitBatch(numKeys: number, ...args: (string | number)[]): Result<number[], Context>;
  }
}

/** 1-based index of each algorithm's script in the batch script's table. */
export const BATCH_INDEX = Object.fromEntries(SCRIPT_NAMES.map((name, i) => [name, i + 1])) as Record<
  ScriptName,
  number
>;

const registered = new WeakSet<Redis>();

/** Registers the batch script on the client once (run by SHA, as the single-check scripts are). */
export function defineBatchScript(redis: Redis): void {
  if (registered.has(redis)) return;
  redis.defineCommand('rateLimitBatch', { lua: batchLua() });
  registered.add(redis);
}
