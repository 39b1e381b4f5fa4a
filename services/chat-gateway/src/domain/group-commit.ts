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

/** One caller's messages: always stored in one commit together, in their order. */
interface Pending {
  inputs: readonly AppendInput[];
  bytes: number;
  resolve(results: AppendResult[]): void;
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
 * Callers that must keep an order (one connection's sends) append the messages waiting together
 * with `appendAll`, which puts them in one commit in their order, and wait for its results before
 * the next append, so no two of them are ever in flight in different batches.
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
    return this.appendAll([input]).then((results) => results[0]!);
  }

  /**
   * Stores `inputs` in one commit, numbered in this order within each conversation; results in
   * input order. The group is never split: a batch that cannot take it whole leaves it for the
   * next one (a group larger than a batch's bounds is a batch of its own).
   */
  appendAll(inputs: readonly AppendInput[]): Promise<AppendResult[]> {
    const { promise, resolve, reject } = Promise.withResolvers<AppendResult[]>();
    let bytes = 0;
    for (const input of inputs) bytes += Buffer.byteLength(input.text) + MESSAGE_OVERHEAD_BYTES;
    this.#queue.push({ inputs, bytes, resolve, reject });
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
    let messages = 0;
    let n = 0;
    while (n < this.#queue.length) {
      const next = this.#queue[n]!;
      if (n > 0 && (messages + next.inputs.length > maxMessages || bytes + next.bytes > maxBytes)) break;
      bytes += next.bytes;
      messages += next.inputs.length;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  async #commit(batch: Pending[]): Promise<void> {
    let results: AppendResult[];
    const inputs = batch.length === 1 ? batch[0]!.inputs : batch.flatMap((p) => p.inputs);
    try {
      results = await this.#options.commit(inputs);
    } catch (error) {
      this.#options.metrics.commits.inc({ result: 'failed' });
      for (const pending of batch) pending.reject(error);
      return;
    }
    this.#options.metrics.commits.inc({ result: 'ok' });
    this.#options.metrics.commitBatch.observe(inputs.length);
    let at = 0;
    for (const pending of batch) {
      const n = pending.inputs.length;
      pending.resolve(results.slice(at, at + n));
      at += n;
    }
  }
}
