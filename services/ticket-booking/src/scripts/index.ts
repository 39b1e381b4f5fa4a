import { readdirSync, readFileSync } from 'node:fs';
import type { ClientContext, Redis, Result } from 'ioredis';

// Loads every `<verbNoun>-<keyCount>.lua` beside this file once per client through defineCommand,
// which runs them by SHA (EVALSHA) and falls back to EVAL after a Redis restart. A key count of
// `N` means the caller passes the number of keys first (a hold locks a variable number of seats).

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

const FILE = /^([a-z][A-Za-z]*)-(\d+|N)\.lua$/;

export function readScripts(dir: URL = new URL('./', import.meta.url)) {
  return readdirSync(dir)
    .map((file) => ({ file, match: FILE.exec(file) }))
    .filter((f): f is { file: string; match: RegExpExecArray } => f.match !== null)
    .map(({ file, match }) => ({
      name: match[1]!,
      keys: match[2] === 'N' ? undefined : Number(match[2]),
      lua: readFileSync(new URL(file, dir), 'utf8'),
    }));
}

export const SCRIPT_NAMES = ['holdSeats', 'releaseSeats', 'joinQueue', 'admitBatch'] as const;

export function defineScripts(redis: Redis): void {
  const scripts = readScripts();
  const missing = SCRIPT_NAMES.filter((name) => !scripts.some((s) => s.name === name));
  if (missing.length) throw new Error(`ticket-booking: missing Lua scripts: ${missing.join(', ')}`);
  for (const { name, keys, lua } of scripts) {
    redis.defineCommand(name, keys === undefined ? { lua } : { numberOfKeys: keys, lua });
  }
}

/** The small negative codes the scripts return instead of a reply; the one place they are read. */
export const ScriptCode = { BadArgument: -1 } as const;

export function scriptFailure(script: string, reply: unknown): Error {
  return new Error(`${script}: script refused its arguments (code ${String(reply)})`);
}
