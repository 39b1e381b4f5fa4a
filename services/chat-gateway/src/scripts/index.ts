import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClientContext, Redis, Result } from 'ioredis';

// Loads every `<verbNoun>-<keyCount>.lua` beside this file once per client through defineCommand,
// which runs them by SHA (EVALSHA) and falls back to EVAL after a Redis restart.
const DIR = fileURLToPath(new URL('.', import.meta.url));
const NAME = /^([a-z][A-Za-z]*)-(\d+)\.lua$/;

export const SCRIPT_NAMES = readdirSync(DIR)
  .filter((file) => NAME.test(file))
  .map((file) => file.replace(/\.lua$/, ''));

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    claimSession(
      sessionsKey: string,
      lastSeenKey: string,
      deviceId: string,
      entry: string,
      ttlMs: number,
      nowMs: number,
      lastSeenTtlS: number,
      maxDevices: number,
    ): Result<[1 | -1, string | null], Context>;
    refreshSession(
      sessionsKey: string,
      lastSeenKey: string,
      deviceId: string,
      connectionId: string,
      entry: string,
      ttlMs: number,
      nowMs: number,
      lastSeenTtlS: number,
    ): Result<0 | 1, Context>;
    releaseSession(
      sessionsKey: string,
      lastSeenKey: string,
      deviceId: string,
      connectionId: string,
      nowMs: number,
      lastSeenTtlS: number,
    ): Result<0 | 1, Context>;
  }
}

export function defineScripts(redis: Redis): void {
  for (const file of readdirSync(DIR)) {
    const match = file.match(NAME);
    if (!match) continue;
    redis.defineCommand(match[1]!, {
      numberOfKeys: Number(match[2]),
      lua: readFileSync(`${DIR}${file}`, 'utf8'),
    });
  }
}
