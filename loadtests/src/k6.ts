import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { followCpu } from './cpu-usage.ts';

export interface K6Metric {
  [stat: string]: number | Record<string, boolean> | undefined;
  thresholds?: Record<string, boolean>;
}

export interface K6Result {
  exitCode: number;
  metrics: Record<string, K6Metric>;
  /** Each threshold with whether it held (k6's export marks a breached one `true`). */
  thresholds: { metric: string; expression: string; ok: boolean }[];
  output: string;
  /** CPU time k6 itself used (sampled; k6 shares the machine with what it loads). */
  cpuMs: number;
}

/**
 * Runs one k6 script and returns its end-of-test summary. Exit 99 means a threshold broke. With
 * `cpus`, k6 runs under `taskset -c` (which execs k6, so the sampled pid is k6's own).
 */
export async function runK6(
  k6: string,
  script: string,
  env: Record<string, string>,
  cpus?: string,
): Promise<K6Result> {
  const dir = await mkdtemp(join(tmpdir(), 'sdlab-load-'));
  const summary = join(dir, 'summary.json');
  const args = [
    'run',
    '--no-color',
    '--quiet',
    `--summary-export=${summary}`,
    '--summary-trend-stats=avg,min,med,max,p(50),p(95),p(99)',
    ...Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`]),
    script,
  ];
  let cpu: { stop(): number } | undefined;
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    const child = execFile(
      cpus ? 'taskset' : k6,
      cpus ? ['-c', cpus, k6, ...args] : args,
      {
        env: { ...process.env, K6_NO_USAGE_REPORT: 'true', K6_AUTO_EXTENSION_RESOLUTION: 'false' },
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const exit =
          error && typeof (error as { code?: unknown }).code === 'number'
            ? (error as { code: number }).code
            : 0;
        resolve({ code: error && !exit ? 1 : exit, output: `${stdout}${stderr}` });
      },
    );
    if (child.pid) cpu = followCpu(child.pid);
  });
  const cpuMs = cpu?.stop() ?? 0;
  try {
    const parsed = JSON.parse(await readFile(summary, 'utf8')) as { metrics: Record<string, K6Metric> };
    const thresholds = Object.entries(parsed.metrics).flatMap(([metric, values]) =>
      Object.entries(values.thresholds ?? {}).map(([expression, breached]) => ({
        metric,
        expression,
        ok: !breached,
      })),
    );
    return { exitCode: code, metrics: parsed.metrics, thresholds, output, cpuMs };
  } catch {
    throw new Error(`k6 produced no summary for ${script} (exit ${code}):\n${output.slice(-4000)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Requests per second k6 actually completed. */
export function achievedRate(result: K6Result): number {
  return Number(result.metrics.http_reqs?.rate ?? 0);
}
