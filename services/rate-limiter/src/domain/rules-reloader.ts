import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Rule } from '@sdlab/rate-limit';
import type { FastifyBaseLogger } from 'fastify';
import type { RateLimiterMetrics } from '../telemetry.ts';
import { loadRulesFile } from './rules-file.ts';

export type ReloadTrigger = 'sighup' | 'watch' | 'manual';

/**
 * Keeps the rules in force and swaps them without a restart. A reload that fails validation keeps
 * the previous rules and logs every problem: a typo in production must not drop all limits.
 */
export class RulesReloader {
  readonly #path: string;
  readonly #apply: (rules: Rule[]) => void;
  readonly #log: FastifyBaseLogger;
  readonly #metrics: RateLimiterMetrics;
  #rules: Rule[];
  #loadedAt = new Date();
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #onSighup: (() => void) | undefined;

  constructor(options: {
    path: string;
    initial: Rule[];
    apply: (rules: Rule[]) => void;
    log: FastifyBaseLogger;
    metrics: RateLimiterMetrics;
  }) {
    this.#path = options.path;
    this.#rules = options.initial;
    this.#apply = options.apply;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#metrics.rulesLoaded.set(this.#rules.length);
  }

  get rules(): Rule[] {
    return this.#rules;
  }

  get loadedAt(): Date {
    return this.#loadedAt;
  }

  get path(): string {
    return this.#path;
  }

  /** Loads the file again; resolves true if the new rules are in force. Never throws. */
  async reload(trigger: ReloadTrigger): Promise<boolean> {
    try {
      const rules = await loadRulesFile(this.#path);
      this.#apply(rules);
      this.#rules = rules;
      this.#loadedAt = new Date();
      this.#metrics.rulesLoaded.set(rules.length);
      this.#metrics.rulesReloads.inc({ trigger, result: 'applied' });
      this.#log.info({ trigger, rules: rules.map((r) => r.name) }, 'rules reloaded');
      return true;
    } catch (error) {
      this.#metrics.rulesReloads.inc({ trigger, result: 'rejected' });
      const problems = (error as { problems?: readonly string[] }).problems;
      this.#log.error(
        { trigger, problems: problems ?? [(error as Error).message] },
        'rules reload rejected; the previous rules stay in force',
      );
      return false;
    }
  }

  /**
   * Watches the file's directory, not the file: editors and config-map updates replace the file
   * (rename over it), which ends a watch on the old inode. Events are debounced, since one save
   * fires several.
   */
  watch(): void {
    const name = basename(this.#path);
    this.#watcher = watch(dirname(this.#path), (_event, file) => {
      if (file !== null && file !== name) return;
      clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => void this.reload('watch'), 100);
    });
    this.#watcher.on('error', (err) =>
      this.#log.warn({ err }, 'rules file watch failed; SIGHUP still reloads'),
    );
    this.#watcher.unref();
  }

  /**
   * Makes SIGHUP reload the rules (the daemon convention). The service is created with
   * `keepRunningOn: ['SIGHUP']`, so the kit does not treat it as a shutdown.
   */
  listenForSighup(): void {
    this.#onSighup = () => void this.reload('sighup');
    process.on('SIGHUP', this.#onSighup);
  }

  close(): void {
    clearTimeout(this.#debounce);
    this.#watcher?.close();
    if (this.#onSighup) process.off('SIGHUP', this.#onSighup);
  }
}
