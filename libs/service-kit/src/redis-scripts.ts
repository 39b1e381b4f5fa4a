import { readdirSync, readFileSync } from 'node:fs';
import type { Redis, RedisCommander } from 'ioredis';

/**
 * A script command's name. The package declares each script's signature on ioredis'
 * `RedisCommander` (`declare module 'ioredis'`), so a call is typed and a name the package never
 * declared does not compile.
 */
export type ScriptCommandName = Extract<keyof RedisCommander, string>;

export interface LuaScript {
  /** The command it becomes on the client: `holdSeats` for `holdSeats-N.lua`. */
  name: string;
  /** The file name without `.lua`: `<verbNoun>-<keyCount>`, or `-N` when the caller passes the count first. */
  file: string;
  numberOfKeys: number | undefined;
  lua: string;
}

export interface LuaScripts {
  readonly list: readonly LuaScript[];
  /** Registers every script on the client, once per client (a second call is a no-op). */
  readonly define: (redis: Redis) => void;
}

const FILE = /^([a-z][A-Za-z]*)-(\d+|N)\.lua$/;

/**
 * Reads every `<verbNoun>-<keyCount>.lua` in `dir` (a package's `scripts/` folder, the same
 * relative path from src/ and dist/) and checks that the files and the declared `names` are the
 * same set, so a script never ships unused or unnamed. For a package that sends its scripts itself
 * (EVALSHA as a plain command); loadLuaScripts registers them on the client.
 */
export function readLuaScripts(dir: URL, names: readonly string[]): LuaScript[] {
  const list: LuaScript[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.lua')) continue;
    const match = FILE.exec(file);
    if (!match) throw new Error(`${file}: a script file is named <verbNoun>-<keyCount or N>.lua`);
    list.push({
      name: match[1]!,
      file: file.slice(0, -'.lua'.length),
      numberOfKeys: match[2] === 'N' ? undefined : Number(match[2]),
      lua: readFileSync(new URL(file, dir), 'utf8'),
    });
  }
  const missing = names.filter((name) => !list.some((s) => s.name === name));
  const undeclared = list.filter((s) => !names.includes(s.name)).map((s) => s.file);
  if (missing.length || undeclared.length) {
    throw new Error(
      `Lua scripts in ${dir.pathname}: ${[
        missing.length ? `missing ${missing.join(', ')}` : '',
        undeclared.length ? `not declared ${undeclared.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ')}`,
    );
  }
  return list;
}

/**
 * The one Lua script loader: readLuaScripts, with the names declared as commands on ioredis'
 * `RedisCommander`. `define` registers them through `defineCommand`: ioredis then runs each by its
 * SHA (EVALSHA), sending the source only the first time per connection or after a NOSCRIPT (a
 * restarted Redis has an empty script cache), in pipelines too.
 */
export function loadLuaScripts(dir: URL, names: readonly ScriptCommandName[]): LuaScripts {
  const list = readLuaScripts(dir, names);
  const registered = new WeakSet<Redis>();
  return {
    list,
    define(redis) {
      if (registered.has(redis)) return;
      for (const { name, numberOfKeys, lua } of list) {
        redis.defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
      }
      registered.add(redis);
    },
  };
}
