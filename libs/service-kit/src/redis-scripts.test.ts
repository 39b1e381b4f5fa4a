import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadLuaScripts } from './redis-scripts.ts';

const dirs: string[] = [];
function folder(files: Record<string, string>): URL {
  const dir = mkdtempSync(join(tmpdir(), 'lua-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return pathToFileURL(`${dir}/`);
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true });
});

describe('loadLuaScripts', () => {
  it('reads each script with its key count, N meaning the caller passes it', () => {
    const scripts = loadLuaScripts(folder({ 'get-1.lua': 'return 1', 'set-N.lua': 'return 2', 'x.ts': '' }), [
      'get',
      'set',
    ]);
    expect(scripts.list).toEqual([
      { name: 'get', file: 'get-1', numberOfKeys: 1, lua: 'return 1' },
      { name: 'set', file: 'set-N', numberOfKeys: undefined, lua: 'return 2' },
    ]);
  });

  it('refuses a declared script without a file, a file nobody declared, and a misnamed file', () => {
    expect(() => loadLuaScripts(folder({ 'get-1.lua': '' }), ['get', 'set'])).toThrow(/missing set/);
    expect(() => loadLuaScripts(folder({ 'get-1.lua': '', 'set-1.lua': '' }), ['get'])).toThrow(
      /not declared set-1/,
    );
    expect(() => loadLuaScripts(folder({ 'Get.lua': '' }), [])).toThrow(/Get\.lua: a script file is named/);
  });
});
