import type { ChatMetrics } from '../telemetry.ts';
import type { AppendInput, AppendResult } from './conversations-repository.ts';

export interface GroupCommitOptions {
  /** Stores a batch in one transaction; results in input order; throws if nothing was stored. */
  commit(batch: readonly AppendInput[]): Promise<AppendResult[]>;
  maxMessages: number;
  maxBytes: number;
  /** 0: an idle batcher commits at the end of this event-loop turn; more: waits that long first. */
  windowMs: number;
  /** Commits in flight at once. */
  concurrency: number;
  metrics: Pick<ChatMetrics, 'commitBatch' | 'commits'>;
}

interface Pending {
  input: AppendInput;
  bytes: number;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

/** Ids, seq, timestamps and array framing a message adds to a batch besides its text. */
const MESSAGE_OVERHEAD_BYTES = 200;

/**
 * Group commit: sends that arrive while a commit is in flight, or in the same event-loop turn,
 * are stored together in one transaction. Each caller's promise settles only after the commit
 * that holds its message, with that message's result, so an ack is never written for a message
 * that is not durable; if the commit fails, every caller in it gets the error and none of its
 * messages is stored. A batch is bounded by count and bytes; what does not fit waits for the next.
 *
 * Callers that must keep an order (one connection's sends) wait for each result before the next
 * append, so no two of them are ever in flight in different batches.
 */
export class GroupCommit {
  readonly #options: GroupCommitOptions;
  #queue: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(options: GroupCommitOptions) {
    this.#options = options;
  }

  append(input: AppendInput): Promise<AppendResult> {
    const { promise, resolve, reject } = Promise.withResolvers<AppendResult>();
    this.#queue.push({
      input,
      bytes: Buffer.byteLength(input.text) + MESSAGE_OVERHEAD_BYTES,
      resolve,
      reject,
    });
    this.#schedule();
    return promise;
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#options.concurrency || this.#queue.length === 0) return;
    this.#scheduled = true;
    const run = () => {
      this.#scheduled = false;
      this.#flush();
    };
    if (this.#options.windowMs > 0) setTimeout(run, this.#options.windowMs);
    else setImmediate(run);
  }

  #flush(): void {
    while (this.#inFlight < this.#options.concurrency && this.#queue.length > 0) {
      const batch = this.#take();
      this.#inFlight++;
      void this.#commit(batch).finally(() => {
        this.#inFlight--;
        // What arrived meanwhile goes at once: it has waited a commit's time already.
        if (this.#queue.length > 0 && !this.#scheduled) this.#flush();
      });
    }
  }

  #take(): Pending[] {
    const { maxMessages, maxBytes } = this.#options;
    let bytes = 0;
    let n = 0;
    while (n < this.#queue.length && n < maxMessages) {
      const next = this.#queue[n]!.bytes;
      if (n > 0 && bytes + next > maxBytes) break;
      bytes += next;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  async #commit(batch: Pending[]): Promise<void> {
    let results: AppendResult[];
    try {
      results = await this.#options.commit(batch.map((p) => p.input));
    } catch (error) {
      this.#options.metrics.commits.inc({ result: 'failed' });
      for (const pending of batch) pending.reject(error);
      return;
    }
    this.#options.metrics.commits.inc({ result: 'ok' });
    this.#options.metrics.commitBatch.observe(batch.length);
    for (const [i, pending] of batch.entries()) pending.resolve(results[i]!);
  }
}
