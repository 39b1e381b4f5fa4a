import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultServiceName } from './telemetry.ts';

describe('defaultServiceName', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sdlab-name-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@sdlab/url-shortener' }));

  it('names a service after its package, without the scope', () => {
    expect(defaultServiceName(dir, '/app/dist/main.js')).toBe('url-shortener');
    expect(defaultServiceName(dir, 'src/main.ts')).toBe('url-shortener');
  });

  it('adds the role of any other entry, as a worker', () => {
    expect(defaultServiceName(dir, '/app/dist/worker.js')).toBe('url-shortener-worker');
    expect(defaultServiceName(dir, 'src/worker.ts')).toBe('url-shortener-worker');
  });
});
