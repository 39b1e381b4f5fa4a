import { loadLuaScripts } from '@sdlab/service-kit/redis-scripts';
import type { ClientContext, Result } from 'ioredis';

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

// Every `<verbNoun>-<keyCount>.lua` beside this file, through the kit's loader.
const scripts = loadLuaScripts(new URL('./', import.meta.url), [
  'claimSession',
  'refreshSession',
  'releaseSession',
]);

/** Registers the scripts on a client (once per client). */
export const defineScripts = scripts.define;
/** The script files, `<verbNoun>-<keyCount>`. */
export const SCRIPT_NAMES = scripts.list.map((s) => s.file);
