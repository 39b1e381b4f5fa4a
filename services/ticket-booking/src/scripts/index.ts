import { loadLuaScripts } from '@sdlab/service-kit/redis-scripts';
import type { ClientContext, Result } from 'ioredis';

// Every `<verbNoun>-<keyCount>.lua` beside this file, through the kit's loader. A key count of `N`
// means the caller passes the number of keys first (a hold locks a variable number of seats).

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    holdSeats(numKeys: number, ...keysThenArgs: (string | number)[]): Result<number[] | number, Context>;
    releaseSeats(numKeys: number, ...keysThenArgs: (string | number)[]): Result<number, Context>;
    joinQueue(
      queue: string,
      admitted: string,
      seq: string,
      user: string,
      nowMs: number,
      ttlMs: number,
    ): Result<[state: number, value: number, joined: number], Context>;
    admitBatch(
      queue: string,
      admitted: string,
      n: number,
      nowMs: number,
      ttlMs: number,
    ): Result<[number, number], Context>;
  }
}

const scripts = loadLuaScripts(new URL('./', import.meta.url), [
  'holdSeats',
  'releaseSeats',
  'joinQueue',
  'admitBatch',
]);

/** Registers the scripts on a client (once per client). */
export const defineScripts = scripts.define;

/** The small negative codes the scripts return instead of a reply; the one place they are read. */
export const ScriptCode = { BadArgument: -1 } as const;

export function scriptFailure(script: string, reply: unknown): Error {
  return new Error(`${script}: script refused its arguments (code ${String(reply)})`);
}
