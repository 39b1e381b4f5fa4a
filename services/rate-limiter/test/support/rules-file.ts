import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** A rules file of the test's own, in a fresh directory; `remove()` deletes it. */
export function writeRules(rules: unknown[]): {
  path: string;
  write(rules: unknown[]): void;
  remove(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'rl-rules-'));
  const path = join(dir, 'rules.yaml');
  const write = (next: unknown[]) => writeFileSync(path, stringify({ rules: next }));
  write(rules);
  return { path, write, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
