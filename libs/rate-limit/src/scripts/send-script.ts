import { createHash } from 'node:crypto';
import { Command, type Redis } from 'ioredis';

/** A Lua script and the SHA-1 Redis caches it under. */
export interface LuaSource {
  lua: string;
  sha: string;
}

export function luaScript(lua: string): LuaSource {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Runs `script` as one plain EVALSHA command (`args`: its SHA, the key count, the keys, the
 * arguments; the caller writes the SHA first, so the hot path builds one array) on
 * the client's connection, so it shares the client's auto-pipelined writes; the client's key
 * prefix applies to the keys as to any command. A Redis that lost its script cache (a restart)
 * answers NOSCRIPT without running anything, and gets the source once by EVAL, which caches it
 * again: the resend cannot run the script twice.
 */
export function sendScript(redis: Redis, script: LuaSource, args: (string | number)[]): Promise<unknown> {
  const keyPrefix = redis.options.keyPrefix;
  const options = keyPrefix ? { keyPrefix } : undefined;
  return (redis.sendCommand(new Command('evalsha', args, options)) as Promise<unknown>).catch(
    (error: unknown) => {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.sendCommand(new Command('eval', [script.lua, ...args.slice(1)], options));
    },
  );
}
