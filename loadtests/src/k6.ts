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
  /** CPU time k6 itself used after setup() (sampled; k6 shares the machine with what it loads). */
  cpuMs: number;
  /** HTTP requests setup() made (lib/measured.js), left out of `measuredRequests`. */
  setupRequests: number;
  /** Seconds from the end of setup() (or k6's start, without one) to k6's exit. */
  measuredS: number;
}

/** The line a scenario prints when its setup() is done (loadtests/lib/measured.js). */
const SETUP_DONE = /msg="?sdlab:setup-done"?/;

/**
 * Runs one k6 script and returns its end-of-test summary. Exit 99 means a threshold broke. With
 * `cpus`, k6 runs under `taskset -c` (which execs k6, so the sampled pid is k6's own).
 * `onSetupDone` runs when the script's setup() has finished, where the measured traffic starts.
 */
export async function runK6(
  k6: string,
  script: string,
  env: Record<string, string>,
  cpus?: string,
  onSetupDone?: () => void,
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
  let cpu: ReturnType<typeof followCpu> | undefined;
  let measuredFrom = performance.now();
  let setupSeen = false;
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
    // With --quiet, console.log lines come on stderr; a chunk may end mid-line, so keep the tail.
    let tail = '';
    const watch = (chunk: Buffer | string) => {
      if (setupSeen) return;
      const text = tail + String(chunk);
      if (SETUP_DONE.test(text)) {
        setupSeen = true;
        measuredFrom = performance.now();
        cpu?.restart();
        onSetupDone?.();
      }
      tail = text.slice(-64);
    };
    child.stderr?.on('data', watch);
    child.stdout?.on('data', watch);
  });
  const measuredS = (performance.now() - measuredFrom) / 1000;
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
    const setupRequests = Number(parsed.metrics['http_reqs{group:::setup}']?.count ?? 0);
    return { exitCode: code, metrics: parsed.metrics, thresholds, output, cpuMs, setupRequests, measuredS };
  } catch {
    throw new Error(`k6 produced no summary for ${script} (exit ${code}):\n${output.slice(-4000)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** HTTP requests of the traffic under test: all k6 made, less setup()'s. */
export function measuredRequests(result: K6Result): number {
  return Math.max(0, Number(result.metrics.http_reqs?.count ?? 0) - result.setupRequests);
}

/**
 * Per second over the measured part of the run. k6's own `rate` divides by the whole run, setup()
 * included, which understated a scenario whose setup() takes seconds.
 */
export function measuredRate(result: K6Result, metric: string): number {
  const count = Number(result.metrics[metric]?.count ?? 0);
  const less = metric === 'http_reqs' ? result.setupRequests : 0;
  return result.measuredS > 0 ? Math.max(0, count - less) / result.measuredS : 0;
}

/** Requests per second k6 actually completed after setup(). */
export function achievedRate(result: K6Result): number {
  return measuredRate(result, 'http_reqs');
}
