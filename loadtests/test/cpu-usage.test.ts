import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  followCpu,
  machineCpuMs,
  mainThreadWaitMs,
  processCpuMs,
  startCpuAccount,
} from '../src/cpu-usage.ts';

/** A child that burns CPU for `ms`, then exits. */
function burn(ms: number) {
  return spawn(process.execPath, ['-e', `const end = Date.now() + ${ms}; while (Date.now() < end) {}`]);
}

describe('CPU accounting from /proc', () => {
  it("reads this process's CPU time, and nothing for a pid that does not exist", () => {
    const before = processCpuMs(process.pid)!;
    const end = Date.now() + 300;
    while (Date.now() < end) {
      // spin: CPU time must grow (by less than 300 ms when other processes share the core)
    }
    const spent = processCpuMs(process.pid)! - before;
    expect(spent).toBeGreaterThanOrEqual(50);
    expect(spent).toBeLessThan(1_000);
    expect(processCpuMs(2 ** 22 + 7)).toBeUndefined();
    const machine = machineCpuMs();
    expect(machine.total).toBeGreaterThan(machine.busy);
    // Steal is the 8th field of /proc/stat's cpu line, in USER_HZ (100) ticks: part of busy.
    const stealTicks = Number(readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/)[8]);
    expect(machine.steal).toBeLessThanOrEqual(machine.busy);
    expect(machine.steal).toBeGreaterThanOrEqual(0);
    // Read a moment apart: steal may have grown by a few ticks in between, never shrunk.
    expect(stealTicks * 10 - Math.round(machine.steal)).toBeGreaterThanOrEqual(0);
    expect(stealTicks * 10 - machine.steal).toBeLessThan(100);
  });

  it('accounts a running process as a share of a core, and follows a child until it exits', async () => {
    const child = burn(900);
    const followed = followCpu(child.pid!, 50);
    const before = processCpuMs(child.pid!)!;
    const account = startCpuAccount([{ name: 'burner', pid: child.pid! }]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const cpu = account.finish(0);
    const after = processCpuMs(child.pid!)!;
    const burner = cpu.processes[0]!;
    // What the account says is what /proc says over the same window (machines under test share
    // their cores, so the spinner's absolute share is not fixed; it always gets some).
    expect(burner.name).toBe('burner');
    expect(burner.cpuMs).toBeGreaterThan(0);
    expect(burner.cpuMs).toBeLessThanOrEqual(after - before);
    expect(burner.cores).toBeCloseTo(burner.cpuMs / (cpu.wallS * 1000), 6);
    expect(burner.cores).toBeLessThanOrEqual(1.1);
    expect(cpu.machineBusy).toBeGreaterThan(0);
    expect(cpu.machineBusy).toBeLessThanOrEqual(1);
    expect(cpu.machineSteal).toBeGreaterThanOrEqual(0);
    expect(cpu.machineSteal).toBeLessThanOrEqual(cpu.machineBusy);
    await once(child, 'exit');
    // Read after exit: the last sample (at most 50 ms old) holds at least what was seen running.
    const total = followed.stop();
    expect(total).toBeGreaterThanOrEqual(after);
    expect(total).toBeLessThan(2_000);
  });
});

describe("a server's CPU after its workers exit", () => {
  it("keeps an exited child's CPU time in its parent's figure once the parent has waited for it", async () => {
    // A parent that runs one burning child to completion, then stays alive: like the postmaster
    // after a backend's connection closed.
    const parent = spawn(process.execPath, [
      '-e',
      `const { spawnSync } = require('node:child_process');
       spawnSync(process.execPath, ['-e', 'const end = Date.now() + 400; while (Date.now() < end) {}']);
       process.stdout.write('reaped\\n');
       setTimeout(() => {}, 10_000);`,
    ]);
    try {
      await once(parent.stdout!, 'data');
      const own = processCpuMs(parent.pid!)!;
      const withChildren = processCpuMs(parent.pid!, { reapedChildren: true })!;
      // The child spun for 400 ms of wall time; on shared cores it got at least some of them.
      expect(withChildren - own).toBeGreaterThanOrEqual(50);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

describe('the main thread waiting for its core', () => {
  it('counts the time three processes sharing one core each spend runnable without it', async () => {
    // Each gets about a third of core 0 and waits for it the other two thirds: the wait is the
    // run queue's, not the run time (which would come out at about the CPU time, not twice it).
    const spinners = [0, 1, 2].map(() =>
      spawn('taskset', [
        '-c',
        '0',
        process.execPath,
        '-e',
        'const end = Date.now() + 2000; while (Date.now() < end) {}',
      ]),
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const account = startCpuAccount(spinners.map((s, i) => ({ name: `spinner ${i}`, pid: s.pid! })));
      await new Promise((resolve) => setTimeout(resolve, 900));
      const cpu = account.finish(0);
      for (const p of cpu.processes) {
        expect(p.waitMs).toBeGreaterThan(200);
        expect(p.waitMs!).toBeGreaterThan(p.cpuMs * 1.3);
        expect(p.waitMs!).toBeLessThan(cpu.wallS * 1000 + 50);
      }
    } finally {
      for (const s of spinners) s.kill();
    }
    expect(mainThreadWaitMs(2 ** 22 + 7)).toBeUndefined();
  });
});
