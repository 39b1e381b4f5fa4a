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
    // ARGV: the batch's id, the number of rules R, then per rule its algorithm index (1-based,
    // SCRIPT_NAMES order), limit and rate or window, then per check its rule (1..R) and cost.
    // A sliding log's member id is the batch id and the check's position: unique per decision.
    // Reply: per check 4 integers; a negative first one is the script's error code.
    'local batch = ARGV[1]',
    'local rules = tonumber(ARGV[2])',
    'local first = 3 + rules * 3',
    'local reply = {}',
    'for i = 1, #KEYS do',
    '  local c = first + (i - 1) * 2',
    '  local r = 3 + (tonumber(ARGV[c]) - 1) * 3',
    '  local decide = byIndex[tonumber(ARGV[r])]',
    "  local out = decide({ KEYS[i] }, { ARGV[r + 1], ARGV[r + 2], ARGV[c + 1], '0', batch .. ':' .. i })",
    "  if type(out) == 'number' then",
    '    reply[#reply + 1] = out; reply[#reply + 1] = 0; reply[#reply + 1] = 0; reply[#reply + 1] = 0',
    '  else',
    '    reply[#reply + 1] = out[1]; reply[#reply + 1] = out[2]; reply[#reply + 1] = out[3]; reply[#reply + 1] = out[4]',
    '  end',
    'end',
    'return reply',
  ].join('\n');
}

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    /** `rateLimitBatch(n, ...n keys, batchId, R, ...3R rule values, ...2n check values)`: 4 integers per check. */
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
