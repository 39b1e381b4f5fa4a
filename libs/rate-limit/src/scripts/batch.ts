import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Rule } from '../rules.ts';
import { readScripts, ruleValues, SCRIPT_FOR, SCRIPT_NAMES, type ScriptName } from './loader.ts';
import { luaScript, sendScript } from './send-script.ts';

const DECIDE = /^local function decide\((.*)\)\n([\s\S]*?)^end -- decide$/m;

/**
 * One script that decides a whole batch in one EVALSHA: every algorithm's script defines its
 * decision as `local function decide(key, limit, span, cost, force, id, now)`, on checked
 * arguments at Redis time `now`; this script holds those four functions as they are and calls the
 * right one per check. A batch is then one round trip and one script run instead of one per check,
 * and each check is decided by exactly the code a single check runs, so a batched decision is as
 * exact as a single one. The whole batch runs atomically, on one TIME: its decisions share one
 * instant (a TIME is ~1 µs of Redis per decision otherwise).
 * Per check the loop builds nothing: no KEYS/ARGV tables for the function, no reply table (the four
 * values go straight into the batch's reply), which Redis's profile showed next to the commands.
 * (All keys of a batch are passed as KEYS, so in a Redis Cluster they must share a hash slot.)
 */
function batchLua(): string {
  const sources = new Map(readScripts().map((s) => [s.name, s.lua]));
  const functions = SCRIPT_NAMES.map((name) => {
    const match = DECIDE.exec(sources.get(name) ?? '');
    if (!match)
      throw new Error(`rate-limit: script ${name} has no 'local function decide(...) ... end -- decide'`);
    return `local function ${name}(${match[1]})\n${match[2]}end`;
  });
  return [
    ...functions,
    `local byIndex = { ${SCRIPT_NAMES.join(', ')} }`,
    // ARGV: the batch's id, the number of rules R, then per rule its algorithm index (1-based,
    // SCRIPT_NAMES order), limit and rate or window, then the checks as runs: how many checks in a
    // row share a rule (1..R) and a cost, that rule, that cost. A batch of one rule and one cost is
    // one run: three arguments for all its checks instead of two per check (each argument is a
    // string Redis allocates, Lua interns and the script parses).
    // A sliding log's member id is the batch id and the check's position: unique per decision.
    // Reply: per check 4 integers; a negative first one is the check's error code (as a single
    // check's script returns it).
    'local batch = ARGV[1]',
    'local rules = tonumber(ARGV[2])',
    // Per rule, once per batch: its function, its two values as numbers, and whether they are
    // valid (the single-check scripts' checks, made once instead of per check).
    'local decideOf, limitOf, spanOf, logOf, validOf = {}, {}, {}, {}, {}',
    'for rule = 1, rules do',
    '  local r = 3 + (rule - 1) * 3',
    '  local index = tonumber(ARGV[r])',
    '  local limit, span = tonumber(ARGV[r + 1]), tonumber(ARGV[r + 2])',
    '  decideOf[rule] = byIndex[index]',
    '  limitOf[rule] = limit',
    '  spanOf[rule] = span',
    `  logOf[rule] = index == ${SCRIPT_NAMES.indexOf('slidingLog') + 1}`,
    '  validOf[rule] = decideOf[rule] ~= nil and limit ~= nil and span ~= nil and limit >= 1 and span > 0',
    'end',
    "local time = redis.call('TIME')",
    'local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)',
    'local reply = {}',
    'local keys = #KEYS',
    'local i = 0',
    'for a = 3 + rules * 3, #ARGV - 2, 3 do',
    '  local count, rule, cost = tonumber(ARGV[a]) or 0, tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])',
    '  local code = 0',
    '  if not rule or not validOf[rule] or not cost or cost < 0 then',
    '    code = -1',
    '  elseif cost > limitOf[rule] then',
    '    code = -2',
    '  end',
    '  local decide, limit, span, log = decideOf[rule], limitOf[rule], spanOf[rule], logOf[rule]',
    '  for _ = 1, math.min(count, keys - i) do',
    '    i = i + 1',
    '    local n = (i - 1) * 4',
    '    if code ~= 0 then',
    '      reply[n + 1] = code; reply[n + 2] = 0; reply[n + 3] = 0; reply[n + 4] = 0',
    '    else',
    // Only a sliding log stores a member per decision; the others ignore the id, so no string is built.
    "      local id = log and (batch .. ':' .. i) or batch",
    '      reply[n + 1], reply[n + 2], reply[n + 3], reply[n + 4] = decide(KEYS[i], limit, span, cost, false, id, now)',
    '    end',
    '  end',
    'end',
    // Runs that do not cover every key (a caller's mistake): those checks are refused, not skipped.
    'for j = i + 1, keys do',
    '  local n = (j - 1) * 4',
    '  reply[n + 1] = -1; reply[n + 2] = 0; reply[n + 3] = 0; reply[n + 4] = 0',
    'end',
    'return reply',
  ].join('\n');
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

/** The batch script's source and SHA (a test loads or flushes it). */
export const BATCH_SCRIPT = luaScript(batchLua());
const SHA = BATCH_SCRIPT.sha;

/**
 * Runs the batch script for `checks`; the reply holds 4 integers per check, in order (a negative
 * first one is that check's error code). Each distinct rule's values are sent once per batch.
 *
 * Sent as a plain EVALSHA command, not through a `defineCommand` script: at a low rate every check
 * is a call of its own, and ioredis's script wrapper (argument copies, a command class per script,
 * a closure per write, a second promise for its NOSCRIPT retry, the auto-pipelining lookup) cost
 * more per lone check than building the batch does (send-script.ts keeps the NOSCRIPT fallback).
 */
export function runBatch(redis: Redis, checks: readonly BatchCheck[]): Promise<number[]> {
  const n = checks.length;
  if (n === 1) return runOne(redis, checks[0]!);
  // EVALSHA sha numkeys ...keys batchId R ...3R rule values ...3 values per run of checks.
  const args: (string | number)[] = [SHA, n];
  for (let i = 0; i < n; i++) args.push(checks[i]!.redisKey);
  const ruleArgs: number[] = [];
  // Runs of checks with the same rule and cost: count, rule index, cost.
  const runArgs: number[] = [];
  const ruleIndex = new Map<Rule, number>();
  let logs = false;
  let runRule = 0;
  let runCost = -1;
  for (let i = 0; i < n; i++) {
    const { rule, cost } = checks[i]!;
    let index = ruleIndex.get(rule);
    if (index === undefined) {
      index = ruleIndex.size + 1;
      ruleIndex.set(rule, index);
      if (rule.algorithm === 'sliding-window-log') logs = true;
      ruleArgs.push(BATCH_INDEX[SCRIPT_FOR[rule.algorithm]], ...ruleValues(rule));
    }
    if (index === runRule && cost === runCost) runArgs[runArgs.length - 3]!++;
    else {
      runArgs.push(1, index, cost);
      runRule = index;
      runCost = cost;
    }
  }
  // The batch id makes each sliding-log member unique (the script appends the check's position);
  // the other algorithms ignore it, so don't pay for randomness (a getrandom call) without a log.
  args.push(logs ? batchId() : '-', ruleIndex.size);
  for (let i = 0; i < ruleArgs.length; i++) args.push(ruleArgs[i]!);
  for (let i = 0; i < runArgs.length; i++) args.push(runArgs[i]!);
  return sendScript(redis, BATCH_SCRIPT, args) as Promise<number[]>;
}

/**
 * A batch of one, the common case at a low rate (every check arrives alone): its arguments written
 * out at once, without the rule table and runs a batch needs (a Map and two arrays per call).
 */
function runOne(redis: Redis, { redisKey, rule, cost }: BatchCheck): Promise<number[]> {
  const [limit, span] = ruleValues(rule);
  const log = rule.algorithm === 'sliding-window-log';
  const args = [
    SHA,
    1,
    redisKey,
    log ? batchId() : '-',
    1,
    BATCH_INDEX[SCRIPT_FOR[rule.algorithm]],
    limit,
    span,
    1,
    1,
    cost,
  ];
  return sendScript(redis, BATCH_SCRIPT, args) as Promise<number[]>;
}

function batchId(): string {
  return randomBytes(9).toString('base64url');
}
