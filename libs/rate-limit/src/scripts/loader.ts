import { readLuaScripts } from '@sdlab/service-kit/redis-scripts';
import type { Redis } from 'ioredis';
import type { Rule } from '../rules.ts';
import { type LuaSource, luaScript, sendScript } from './send-script.ts';

/** A script's reply: the algorithm's outcome as integers, or a negative code (error-codes.ts). */
export type ScriptReply = [allowed: 0 | 1, remaining: number, resetMs: number, retryAfterMs: number] | number;

export const SCRIPT_NAMES = ['tokenBucket', 'fixedWindow', 'slidingCounter', 'slidingLog'] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

/** Each rule algorithm's script. */
export const SCRIPT_FOR: Record<Rule['algorithm'], ScriptName> = {
  'token-bucket': 'tokenBucket',
  'fixed-window': 'fixedWindow',
  'sliding-window-counter': 'slidingCounter',
  'sliding-window-log': 'slidingLog',
};

/**
 * A rule's two values as every script takes them (a single check's and the batch's): limit (or a
 * bucket's capacity) and window (or its refill rate).
 */
export function ruleValues(rule: Rule): [limit: number, rateOrWindow: number] {
  return rule.algorithm === 'token-bucket' ? [rule.capacity, rule.refillPerSec] : [rule.limit, rule.windowMs];
}

// Every `<algorithm>-1.lua` in this folder (dist/scripts after a build, which copies them),
// through the kit's reader.
const scripts = readLuaScripts(new URL('./', import.meta.url), SCRIPT_NAMES);
const SOURCES = Object.fromEntries(scripts.map((s) => [s.name, luaScript(s.lua)])) as Record<
  ScriptName,
  LuaSource
>;

/** The scripts: name, key count, source. */
export function readScripts(): { name: string; keys: number; lua: string }[] {
  return scripts.map((s) => ({ name: s.name, keys: s.numberOfKeys ?? 1, lua: s.lua }));
}

/**
 * One algorithm's script for one key (the local cache's commits, a check outside the batch path):
 * a plain EVALSHA, as the batch script is sent (send-script.ts), with the source resent after a
 * NOSCRIPT. Every script takes one key and the same five arguments, so callers treat them alike.
 */
export function runScript(
  redis: Redis,
  name: ScriptName,
  key: string,
  limit: number,
  rateOrWindow: number,
  cost: number,
  force: 0 | 1,
  requestId: string,
): Promise<ScriptReply> {
  const source = SOURCES[name];
  return sendScript(redis, source, [
    source.sha,
    1,
    key,
    limit,
    rateOrWindow,
    cost,
    force,
    requestId,
  ]) as Promise<ScriptReply>;
}
