// `node infra/compose/container-health.ts [stats-file]`: after a run of the compose stack, fails
// when a container was OOM-killed, restarted, or stopped with an error (a one-shot job must exit
// 0), and prints each container's peak memory against its limit: the kernel's own high-water mark
// of the container's cgroup where it can be read (no sampling, so nothing runs beside the checks),
// else the highest of `docker stats` samples in the given file.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

interface Inspected {
  Id: string;
  Name: string;
  RestartCount: number;
  State: { Status: string; OOMKilled: boolean; ExitCode: number };
  HostConfig: { Memory: number };
}

const MiB = 1024 * 1024;
const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB, GiB: 1024 * MiB, kB: 1e3, MB: 1e6, GB: 1e9 };

/** Highest sampled usage per container name, from lines like `sdlab-redis-1 12.3MiB / 160MiB`. */
function peaks(file: string | undefined): Map<string, number> {
  const found = new Map<string, number>();
  if (!file || !existsSync(file)) return found;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = line.match(/^(\S+) ([\d.]+)([A-Za-z]+) \//);
    if (!match) continue;
    const bytes = Number(match[2]) * (UNITS[match[3]!] ?? Number.NaN);
    if (bytes > (found.get(match[1]!) ?? 0)) found.set(match[1]!, bytes);
  }
  return found;
}

/** The cgroup's peak memory (v1 `memory.max_usage_in_bytes`, v2 `memory.peak`), if readable. */
function cgroupPeak(id: string): number | undefined {
  const candidates = [
    `/sys/fs/cgroup/memory/docker/${id}/memory.max_usage_in_bytes`,
    `/sys/fs/cgroup/docker/${id}/memory.peak`,
    `/sys/fs/cgroup/system.slice/docker-${id}.scope/memory.peak`,
  ];
  for (const file of candidates) {
    if (existsSync(file)) return Number(readFileSync(file, 'utf8').trim());
  }
  return undefined;
}

const ids = execFileSync('docker', ['compose', 'ps', '--all', '--quiet'], { encoding: 'utf8' })
  .split('\n')
  .filter(Boolean);
if (ids.length === 0) {
  process.stderr.write('container-health: no containers in this compose project\n');
  process.exit(1);
}
const containers = JSON.parse(
  execFileSync('docker', ['inspect', ...ids], { encoding: 'utf8' }),
) as Inspected[];
const peak = peaks(process.argv[2]);
let problems = 0;
process.stdout.write(
  'container                                  state      restarts  oom   peak MiB / limit MiB\n',
);
for (const c of containers.sort((a, b) => a.Name.localeCompare(b.Name))) {
  const name = c.Name.replace(/^\//, '');
  const bad =
    c.State.OOMKilled ||
    c.RestartCount > 0 ||
    (c.State.Status !== 'running' && !(c.State.Status === 'exited' && c.State.ExitCode === 0));
  if (bad) problems++;
  const used = cgroupPeak(c.Id) ?? peak.get(name);
  const limit = c.HostConfig.Memory;
  process.stdout.write(
    `${name.padEnd(42)} ${`${c.State.Status}${c.State.Status === 'exited' ? `(${c.State.ExitCode})` : ''}`.padEnd(10)} ` +
      `${String(c.RestartCount).padStart(8)}  ${c.State.OOMKilled ? 'YES ' : 'no  '}  ` +
      `${used === undefined ? '    -' : (used / MiB).toFixed(0).padStart(5)} / ${limit ? (limit / MiB).toFixed(0) : '-'}` +
      `${used && limit ? ` (${Math.round((100 * used) / limit)}%)` : ''}${bad ? '   <-- PROBLEM' : ''}\n`,
  );
}
process.stdout.write(
  problems
    ? `container-health: ${problems} container(s) OOM-killed, restarted or failed\n`
    : 'container-health: no OOM kill, no restart\n',
);
process.exit(problems ? 1 : 0);
