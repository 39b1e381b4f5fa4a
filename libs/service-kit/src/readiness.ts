export type ReadinessCheck = () => Promise<unknown>;

export interface CheckResult {
  name: string;
  ok: boolean;
  durationMs: number;
  error?: string;
}

/**
 * The dependency checks behind /readyz. Each runs on every probe with a timeout, so a hung
 * dependency makes the service not-ready instead of making the probe hang.
 */
export class Readiness {
  readonly #checks = new Map<string, ReadinessCheck>();
  readonly #timeoutMs: number;

  constructor(timeoutMs = 2000) {
    this.#timeoutMs = timeoutMs;
  }

  add(name: string, check: ReadinessCheck): void {
    if (this.#checks.has(name)) throw new Error(`readiness check "${name}" is already registered`);
    this.#checks.set(name, check);
  }

  get names(): string[] {
    return [...this.#checks.keys()];
  }

  async run(): Promise<CheckResult[]> {
    return Promise.all([...this.#checks].map(([name, check]) => this.#runOne(name, check)));
  }

  async #runOne(name: string, check: ReadinessCheck): Promise<CheckResult> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${this.#timeoutMs} ms`)), this.#timeoutMs);
    });
    try {
      await Promise.race([check(), timeout]);
      return { name, ok: true, durationMs: Math.round(performance.now() - started) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { name, ok: false, durationMs: Math.round(performance.now() - started), error: message };
    } finally {
      clearTimeout(timer);
    }
  }
}
