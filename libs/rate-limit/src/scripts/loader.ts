import { loadLuaScripts } from '@sdlab/service-kit/redis-scripts';
import type { ClientContext, Result } from 'ioredis';

/** A script's reply: the algorithm's outcome as integers, or a negative code (error-codes.ts). */
export type ScriptReply = [allowed: 0 | 1, remaining: number, resetMs: number, retryAfterMs: number] | number;

/** Every script takes one key and the same five arguments, so callers treat them alike. */
type ScriptCall<Context extends ClientContext> = (
  key: string,
  limit: number,
  rateOrWindow: number,
  cost: number,
  force: 0 | 1,
  requestId: string,
) => Result<ScriptReply, Context>;

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    tokenBucket: ScriptCall<Context>;
    fixedWindow: ScriptCall<Context>;
    slidingCounter: ScriptCall<Context>;
    slidingLog: ScriptCall<Context>;
  }
}

export const SCRIPT_NAMES = ['tokenBucket', 'fixedWindow', 'slidingCounter', 'slidingLog'] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

// Every `<algorithm>-1.lua` in this folder (dist/scripts after a build, which copies them),
// through the kit's loader.
const scripts = loadLuaScripts(new URL('./', import.meta.url), SCRIPT_NAMES);

/** The scripts: name, key count, source. */
export function readScripts(): { name: string; keys: number; lua: string }[] {
  return scripts.list.map((s) => ({ name: s.name, keys: s.numberOfKeys ?? 1, lua: s.lua }));
}

/** Registers every script on the client once (EVALSHA, with the source resent after a NOSCRIPT). */
export const defineScripts = scripts.define;
