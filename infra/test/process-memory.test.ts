import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from '@sdlab/testkit';
import { describe, expect, it } from 'vitest';
import { measureMemory } from '../stack/memory.ts';
import { readProcessMemory } from '../stack/process-memory.ts';

const MiB = 2 ** 20;

describe('readProcessMemory (VmRSS and VmHWM from /proc)', () => {
  it('reads what the process holds, and follows memory it touches', () => {
    const before = readProcessMemory(process.pid)!;
    expect(before.rssMb * MiB).toBeGreaterThan(0.8 * process.memoryUsage().rss - 8 * MiB);
    expect(before.rssMb * MiB).toBeLessThan(1.2 * process.memoryUsage().rss + 8 * MiB);
    expect(before.hwmMb).toBeGreaterThanOrEqual(before.rssMb);

    // 96 MiB written byte by byte, so every page is resident.
    const held = Buffer.alloc(96 * MiB, 1);
    const after = readProcessMemory(process.pid)!;
    expect(held[held.length - 1]).toBe(1);
    expect(after.rssMb - before.rssMb).toBeGreaterThan(80);
    expect(after.hwmMb).toBeGreaterThanOrEqual(after.rssMb);
  });

  it('says undefined for a process that has gone', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    expect(readProcessMemory(child.pid!)).toBeUndefined();
  });
});

describe('pnpm mem', () => {
  test('starts the kit-built service, lets it idle and reads its memory', async ({ endpoints }) => {
    const [row] = await measureMemory({
      configs: ['lean'],
      from: 'source',
      settleS: 1,
      portOffset: 3000,
      only: ['kit-empty'],
      endpoints,
    });
    expect(row?.name).toBe('kit-empty');
    const idle = row!.idle.lean!;
    // A Node process alone is ~41 MiB; a Fastify service well above it, and far below a GiB.
    expect(idle.rssMb).toBeGreaterThan(50);
    expect(idle.rssMb).toBeLessThan(1024);
    expect(idle.hwmMb).toBeGreaterThanOrEqual(idle.rssMb);
  });
});
