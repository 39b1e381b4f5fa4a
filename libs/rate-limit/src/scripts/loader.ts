import { readdirSync, readFileSync } from 'node:fs';
import type { ClientContext, Redis, Result } from 'ioredis';

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

const SCRIPT_FILE = /^([a-zA-Z]+)-(\d+)\.lua$/;

/** The scripts in this folder (dist/scripts after a build, which copies them): name, key count, source. */
export function readScripts(
  dir: URL = new URL('./', import.meta.url),
): { name: string; keys: number; lua: string }[] {
  return readdirSync(dir)
    .map((file) => ({ file, match: SCRIPT_FILE.exec(file) }))
    .filter((f): f is { file: string; match: RegExpExecArray } => f.match !== null)
    .map(({ file, match }) => ({
      name: match[1]!,
      keys: Number(match[2]),
      lua: readFileSync(new URL(file, dir), 'utf8'),
    }));
}

const registered = new WeakSet<Redis>();

/**
 * Registers every script on the client once, through `defineCommand`: ioredis then runs each by
 * its SHA (EVALSHA), sending the source only the first time per connection or after a NOSCRIPT
 * (a restarted Redis has an empty script cache), in pipelines too.
 */
export function defineScripts(redis: Redis): void {
  if (registered.has(redis)) return;
  const scripts = readScripts();
  const missing = SCRIPT_NAMES.filter((name) => !scripts.some((s) => s.name === name));
  if (missing.length) throw new Error(`rate-limit: missing Lua scripts: ${missing.join(', ')}`);
  for (const { name, keys, lua } of scripts) redis.defineCommand(name, { numberOfKeys: keys, lua });
  registered.add(redis);
}
