import { randomBytes } from 'node:crypto';
import type { ClientContext, Redis, Result } from 'ioredis';
import type { Rule } from '../rules.ts';
import { readScripts, SCRIPT_NAMES, type ScriptName } from './loader.ts';

const TIME_CALL = "redis.call('TIME')";

/**
 * One script that decides a whole batch in one EVALSHA: every algorithm's own script, wrapped as
 * a local function (their `KEYS`/`ARGV` become its parameters and their `return` returns from
 * it), and a loop that calls the right one per check. A batch is then one round trip and one
 * script run instead of one per check, and each check is decided by exactly the code a single
 * check runs, so a batched decision is as exact as a single one. The whole batch runs atomically.
 * The scripts' `redis.call('TIME')` becomes one TIME per batch: the batch is one atomic step, so
 * its decisions share one instant (a TIME is ~1 µs of Redis per decision otherwise).
 * (All keys of a batch are passed as KEYS, so in a Redis Cluster they must share a hash slot.)
 */
function batchLua(): string {
  const bodies = new Map(readScripts().map((s) => [s.name, s.lua]));
  const functions = SCRIPT_NAMES.map((name) => {
    const body = bodies.get(name) ?? '';
    if (!body.includes(TIME_CALL)) throw new Error(`rate-limit: script ${name} does not read ${TIME_CALL}`);
    return `local function ${name}(KEYS, ARGV)\n${body.replaceAll(TIME_CALL, 'batchTime()')}\nend`;
  });
  return [
    'local batchClock',
    'local function batchTime()',
    "  if not batchClock then batchClock = redis.call('TIME') end",
    '  return batchClock',
    'end',
    ...functions,
    `local byIndex = { ${SCRIPT_NAMES.join(', ')} }`,
    // ARGV: the batch's id, the number of rules R, then per rule its algorithm index (1-based,
    // SCRIPT_NAMES order), limit and rate or window, then per check its rule (1..R) and cost.
    // A sliding log's member id is the batch id and the check's position: unique per decision.
    // Reply: per check 4 integers; a negative first one is the script's error code.
    'local batch = ARGV[1]',
    'local rules = tonumber(ARGV[2])',
    'local first = 3 + rules * 3',
    // Per rule, once per batch: its function and its two values as numbers (the scripts'
    // tonumber of a number is the number), so a check costs no parsing of the rule's values.
    'local decideOf, limitOf, spanOf, logOf = {}, {}, {}, {}',
    'for rule = 1, rules do',
    '  local r = 3 + (rule - 1) * 3',
    '  local index = tonumber(ARGV[r])',
    '  decideOf[rule] = byIndex[index]',
    '  limitOf[rule] = tonumber(ARGV[r + 1])',
    '  spanOf[rule] = tonumber(ARGV[r + 2])',
    `  logOf[rule] = index == ${SCRIPT_NAMES.indexOf('slidingLog') + 1}`,
    'end',
    'local reply = {}',
    'local n = 0',
    'for i = 1, #KEYS do',
    '  local c = first + (i - 1) * 2',
    '  local rule = tonumber(ARGV[c])',
    // Only a sliding log stores a member per decision; the others ignore the id, so no string is built.
    "  local id = logOf[rule] and (batch .. ':' .. i) or batch",
    "  local out = decideOf[rule]({ KEYS[i] }, { limitOf[rule], spanOf[rule], ARGV[c + 1], '0', id })",
    "  if type(out) == 'number' then",
    '    reply[n + 1] = out; reply[n + 2] = 0; reply[n + 3] = 0; reply[n + 4] = 0',
    '  else',
    '    reply[n + 1] = out[1]; reply[n + 2] = out[2]; reply[n + 3] = out[3]; reply[n + 4] = out[4]',
    '  end',
    '  n = n + 4',
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

/** One check of a batch: its Redis key (already built), its rule, its cost. */
export interface BatchCheck {
  redisKey: string;
  rule: Rule;
  cost: number;
}

const SCRIPT_OF: Record<Rule['algorithm'], ScriptName> = {
  'token-bucket': 'tokenBucket',
  'fixed-window': 'fixedWindow',
  'sliding-window-counter': 'slidingCounter',
  'sliding-window-log': 'slidingLog',
};

/**
 * Runs the batch script for `checks`; the reply holds 4 integers per check, in order (a negative
 * first one is that check's error code). Each distinct rule's values are sent once per batch.
 */
export function runBatch(redis: Redis, checks: readonly BatchCheck[]): Promise<number[]> {
  const n = checks.length;
  const keys = new Array<string>(n);
  const ruleArgs: (string | number)[] = [];
  const checkArgs = new Array<number>(n * 2);
  const ruleIndex = new Map<Rule, number>();
  let logs = false;
  for (let i = 0; i < n; i++) {
    const { redisKey, rule, cost } = checks[i]!;
    keys[i] = redisKey;
    let index = ruleIndex.get(rule);
    if (index === undefined) {
      index = ruleIndex.size + 1;
      ruleIndex.set(rule, index);
      if (rule.algorithm === 'sliding-window-log') logs = true;
      if (rule.algorithm === 'token-bucket')
        ruleArgs.push(BATCH_INDEX.tokenBucket, rule.capacity, rule.refillPerSec);
      else ruleArgs.push(BATCH_INDEX[SCRIPT_OF[rule.algorithm]], rule.limit, rule.windowMs);
    }
    checkArgs[i * 2] = index;
    checkArgs[i * 2 + 1] = cost;
  }
  // The batch id makes each sliding-log member unique (the script appends the check's position);
  // the other algorithms ignore it, so don't pay for randomness (a getrandom call) without a log.
  const batchId = logs ? randomBytes(9).toString('base64url') : '-';
  return redis.rateLimitBatch(n, ...keys, batchId, ruleIndex.size, ...ruleArgs, ...checkArgs);
}

const registered = new WeakSet<Redis>();

/** Registers the batch script on the client once (run by SHA, as the single-check scripts are). */
export function defineBatchScript(redis: Redis): void {
  if (registered.has(redis)) return;
  redis.defineCommand('rateLimitBatch', { lua: batchLua() });
  // The limiter already sends one batch per event-loop turn. Auto-pipelining would hold that one
  // command for another setImmediate (a whole loop turn later) and wrap it in a pipeline of one, so
  // this command is written at once; the client's other commands keep auto-pipelining. A new array,
  // not a push: ioredis's default options share theirs between clients.
  const ignored = redis.options.autoPipeliningIgnoredCommands ?? [];
  if (!ignored.includes('rateLimitBatch'))
    redis.options.autoPipeliningIgnoredCommands = [...ignored, 'rateLimitBatch'];
  registered.add(redis);
}
