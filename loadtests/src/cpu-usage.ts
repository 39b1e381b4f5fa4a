import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

// Where a run's CPU went. k6 runs on the same cores as the services it loads, so a rate that
// "breaks" may be the load generator's limit rather than the service's: the record says how much
// of the machine each one used, and the service's CPU time per request.

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 on every common Linux). */
const TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * User + system CPU time of one process so far, in ms; undefined once it has gone. With
 * `reapedChildren`, also the CPU time of its children that have exited and been waited for.
 */
export function processCpuMs(pid: number, options: { reapedChildren?: boolean } = {}): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12th and 13th after the name;
    // cutime and cstime (children waited for) the next two.
    const own = Number(fields[11]) + Number(fields[12]);
    const reaped = options.reapedChildren ? Number(fields[13]) + Number(fields[14]) : 0;
    return ((own + reaped) / TICKS_PER_S) * 1000;
  } catch {
    return undefined;
  }
}

/**
 * How long a process's main thread has waited so far runnable but without a core, in ms (the run
 * queue: the second field of /proc/<pid>/schedstat); undefined once it has gone or where the kernel
 * keeps no scheduler statistics. Every such wait is latency a request pays that no CPU time shows:
 * on a shared machine, another process (Redis woken by the service's own write, k6) holding the
 * service's core.
 */
export function mainThreadWaitMs(pid: number): number | undefined {
  try {
    const waitNs = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
    return Number.isFinite(waitNs) ? waitNs / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Busy and total CPU time of the whole machine so far (all cores), in ms, and the part of it the
 * hypervisor gave to other guests (steal): time this machine's runnable work waited for a CPU
 * that none of its own processes held.
 */
export function machineCpuMs(): { busy: number; total: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((sum, t) => sum + t, 0);
  // idle + iowait are the not-busy parts.
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const ms = (t: number) => (t / TICKS_PER_S) * 1000;
  return { busy: ms(total - idle), total: ms(total), steal: ms(ticks[7] ?? 0) };
}

/**
 * Follows a short-lived process's CPU time by sampling it, since it cannot be read after the
 * process exits (k6). The last sample is at most `everyMs` behind the process's end.
 */
export function followCpu(pid: number, everyMs = 250): { stop(): number; restart(): void } {
  let base = 0;
  let last = processCpuMs(pid) ?? 0;
  const timer = setInterval(() => {
    last = processCpuMs(pid) ?? last;
  }, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      last = processCpuMs(pid) ?? last;
      return last - base;
    },
    /** Counts from now on (the end of a k6 script's setup). */
    restart() {
      last = processCpuMs(pid) ?? last;
      base = last;
    },
  };
}

export interface CpuShare {
  /** Cores' worth of CPU used on average over the run (1 = one core fully busy). */
  cores: number;
  cpuMs: number;
  /** The main thread's time runnable but waiting for a core over the run (`mainThreadWaitMs`). */
  waitMs?: number;
}

export interface CpuAccount {
  wallS: number;
  cores: number;
  /** Share of the whole machine that was busy (0–1). */
  machineBusy: number;
  /** Share of the whole machine the hypervisor gave to other guests (0–1; absent in older results). */
  machineSteal?: number;
  k6?: CpuShare;
  processes: (CpuShare & { name: string })[];
}

/** Snapshots the service processes and the machine; `finish` turns the deltas into shares. */
export function startCpuAccount(processes: { name: string; pid: number }[]) {
  const started = performance.now();
  const machine = machineCpuMs();
  const before = processes.map((p) => ({
    ...p,
    cpuMs: processCpuMs(p.pid) ?? 0,
    waitMs: mainThreadWaitMs(p.pid),
  }));
  return {
    finish(k6CpuMs?: number): CpuAccount {
      const wallMs = performance.now() - started;
      const now = machineCpuMs();
      const share = (cpuMs: number): CpuShare => ({ cpuMs, cores: cpuMs / wallMs });
      const total = now.total - machine.total;
      return {
        wallS: wallMs / 1000,
        cores: availableParallelism(),
        machineBusy: total > 0 ? (now.busy - machine.busy) / total : 0,
        machineSteal: total > 0 ? (now.steal - machine.steal) / total : 0,
        ...(k6CpuMs !== undefined ? { k6: share(k6CpuMs) } : {}),
        processes: before.map((p) => {
          const waitedMs = p.waitMs === undefined ? undefined : mainThreadWaitMs(p.pid);
          return {
            name: p.name,
            ...share(Math.max(0, (processCpuMs(p.pid) ?? p.cpuMs) - p.cpuMs)),
            ...(waitedMs !== undefined ? { waitMs: Math.max(0, waitedMs - p.waitMs!) } : {}),
          };
        }),
      };
    },
  };
}

/** Resident memory of one process in MB (VmRSS), undefined once it has gone. */
export function processRssMb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The real servers a run leans on, told apart by process name or command line. */
const SERVERS: { name: string; matches(comm: string, cmdline: string): boolean }[] = [
  { name: 'postgres', matches: (comm) => comm === 'postgres' },
  { name: 'redis', matches: (comm) => comm.startsWith('redis-server') },
  { name: 'kafka', matches: (comm, cmdline) => comm === 'java' && cmdline.includes('kafka.Kafka') },
  {
    name: 'elasticsearch',
    matches: (comm, cmdline) => comm === 'java' && cmdline.includes('org.elasticsearch'),
  },
];

/**
 * CPU time so far of every server process on this machine, summed per server (ms). Postgres runs
 * a process per connection: a backend that exits between two readings takes its CPU time out of
 * the live processes' sum, so each process's reaped children count too (the postmaster waits for
 * its backends), and a server's figure only grows.
 */
export function serverCpuMs(): Record<string, number> {
  const totals: Record<string, number> = Object.fromEntries(SERVERS.map((s) => [s.name, 0]));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      const cmdline = comm === 'java' ? readFileSync(`/proc/${entry}/cmdline`, 'utf8') : '';
      const server = SERVERS.find((s) => s.matches(comm, cmdline));
      if (server) totals[server.name]! += processCpuMs(Number(entry), { reapedChildren: true }) ?? 0;
    } catch {
      // the process ended while we looked
    }
  }
  return totals;
}
