import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

export interface MachineProfile {
  cores: number;
  memoryGiB: number;
  cpuModel: string;
  node: string;
  k6: string;
}

export function machineProfile(k6: string): MachineProfile {
  return {
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    k6: execFileSync(k6, ['version'], { encoding: 'utf8' }).trim().split('\n')[0] ?? 'unknown',
  };
}

export function commit(): string {
  const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
    encoding: 'utf8',
  }).trim();
  return dirty ? `${sha}+dirty` : sha;
}
