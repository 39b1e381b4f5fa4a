import { readFileSync } from 'node:fs';

/** What the kernel says a process holds: resident now, and the most it has ever held. */
export interface ProcessMemory {
  /** VmRSS: resident set now, in MiB. */
  rssMb: number;
  /** VmHWM: the resident set's high-water mark since the process started, in MiB. */
  hwmMb: number;
}

/**
 * VmRSS and VmHWM of one process from /proc/<pid>/status (kB there), or undefined once it has
 * gone. The same figures a container's cgroup sums and its mem_limit is checked against.
 */
export function readProcessMemory(pid: number): ProcessMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    return match ? Number(match[1]) : undefined;
  };
  const rss = kb('VmRSS');
  const hwm = kb('VmHWM');
  if (rss === undefined || hwm === undefined) return undefined;
  return { rssMb: rss / 1024, hwmMb: hwm / 1024 };
}
