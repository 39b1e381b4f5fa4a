/**
 * A fault scenario: one infrastructure failure, scripted, with what every service it involves
 * promises while the failure lasts and after it is repaired. The same definition runs in two
 * harnesses: `pnpm fault <name>` against the stack a user started (infra/faults/run.ts), and a
 * vitest file that starts its own copy of the processes (infra/faults/test-harness.ts).
 */

/** A server of infra/native (and a compose service of the same name). */
export type FaultServer = 'redis' | 'postgres' | 'kafka' | 'elasticsearch';

/**
 * What happens to the scenario's server: it is stopped (`fault.stop()` / `start()`), or it stays up
 * and its clients reach it through a latency proxy (`fault.slow(ms)`), the processes that talk to
 * it being started, or restarted, with its address pointing at the proxy.
 */
export type FaultKind = 'stop' | 'slow';

export type Phase = 'before' | 'during' | 'after';

export interface FaultScenario {
  /** e.g. 'redis-stopped'; the module is infra/faults/scenarios/<name>.ts. */
  name: string;
  /** One line, shown by `pnpm fault list`. */
  title: string;
  /** The server the scenario stops (or slows); absent when it kills service processes instead. */
  server?: FaultServer;
  /** Default 'stop'. */
  kind?: FaultKind;
  /** Compose service names it talks to or kills (their compose dependencies come along). */
  services: string[];
  run(ctx: FaultContext): Promise<void>;
}

export interface FaultContext {
  /** Base URL of a planned process, e.g. http://127.0.0.1:8081. */
  url(service: string): string;
  /** The environment the process runs with (DATABASE_URL, REDIS_URL, topics, key prefixes …). */
  env(service: string): Readonly<Record<string, string>>;
  /**
   * The scenario's server. stop() returns once it is down; start() once it answers again. slow(ms),
   * for a scenario of kind 'slow': from now on every answer of the server reaches its clients ms
   * later (0: no added latency).
   */
  fault: { stop(): Promise<void>; start(): Promise<void>; slow(ms: number): Promise<void> };
  /** SIGKILL a service process (no shutdown hooks run: what a crash looks like). */
  kill(service: string): Promise<void>;
  /** Start a killed process again, the way its harness started it, and wait until it is ready. */
  restart(service: string): Promise<void>;
  /**
   * Runs one promise's check and records it. Never throws: a failure is recorded with its
   * reason, printed, and the scenario carries on, so every promise gets reported. Resolves to
   * whether it passed, for steps that make sense only after a passing one.
   */
  check(phase: Phase, service: string, promise: string, fn: () => Promise<void>): Promise<boolean>;
  /** Retries fn until it resolves (returning its value) or timeoutMs passes (rethrowing its last error). */
  eventually<T>(fn: () => Promise<T>, timeoutMs: number, intervalMs?: number): Promise<T>;
  log(line: string): void;
}

export interface CheckResult {
  phase: Phase;
  service: string;
  promise: string;
  ok: boolean;
  /** Why it failed (the error's message). */
  error?: string;
  ms: number;
}

/** What a harness provides; the recording part of the context is the same for both. */
export type FaultTarget = Omit<FaultContext, 'check' | 'eventually' | 'log'>;

export function createFaultContext(
  target: FaultTarget,
  print: (line: string) => void,
): { ctx: FaultContext; results: CheckResult[] } {
  const results: CheckResult[] = [];
  const ctx: FaultContext = {
    ...target,
    async check(phase, service, promise, fn) {
      const started = Date.now();
      let error: string | undefined;
      try {
        await fn();
      } catch (caught) {
        error = caught instanceof Error ? caught.message : String(caught);
      }
      const ms = Date.now() - started;
      results.push({ phase, service, promise, ok: error === undefined, ...(error ? { error } : {}), ms });
      const mark = error === undefined ? '✓' : '✗';
      print(
        `  ${mark} ${phase.padEnd(7)} ${service.padEnd(26)} ${promise}${error ? `\n      ${error}` : ''}`,
      );
      return error === undefined;
    },
    eventually: (fn, timeoutMs, intervalMs = 250) => eventually(fn, timeoutMs, intervalMs),
    log: (line) => print(`  · ${line}`),
  };
  return { ctx, results };
}

export async function eventually<T>(fn: () => Promise<T>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() + intervalMs > deadline) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`not within ${timeoutMs} ms: ${reason}`);
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** A one-line summary: "12 promises checked, 11 kept, 1 broken". */
export function summary(results: CheckResult[]): string {
  const broken = results.filter((r) => !r.ok).length;
  return `${results.length} promises checked, ${results.length - broken} kept, ${broken} broken`;
}
