import { type ClickEvent, encodeClick } from './click-event.ts';

// Tumbling event-time windows with a per-partition watermark, as pure state (no I/O).
//
// Watermark = newest event time seen in the partition − allowed lateness [004:1267]. An event at or
// after the watermark is counted in its 1-minute window, even when that window was already flushed
// (a late correction: the next flush adds it to the stored count). An event before the watermark
// belongs to a window that is final: it is dead-lettered instead [004:1262-1265].
//
// The watermark is per partition and restored from Postgres with the offsets, so it is a pure
// function of the partition's message prefix: a replay after a crash or a rebalance makes exactly
// the same count/dead-letter decisions as the first run. A watermark per consumer instance would
// depend on which partitions it happened to hold and in what order it read them.

export const MINUTE_MS = 60_000;

export const windowStart = (time: number, sizeMs = MINUTE_MS): number => time - (time % sizeMs);

export type Disposition = 'on_time' | 'late_counted' | 'dead_letter';

export interface CountedClick extends ClickEvent {
  partition: number;
  offset: number;
  /**
   * Dead-lettered (older than the watermark): stored raw, for reconciliation and review, but never
   * counted. The raw_clicks column is still called `late`.
   */
  deadLettered: boolean;
}

export interface DeadLetter {
  partition: number;
  offset: number;
  reason: 'too_late' | 'malformed';
  /** The original message key and value. */
  key: Buffer | string | null;
  value: Buffer | string | null;
  /** How far behind the partition's newest event the click was (ms), when it parsed. */
  lagMs?: number;
}

/** What a flush takes from one partition: everything consumed since the last commit. */
export interface PartitionFlush {
  partition: number;
  /** The stored offset this state was loaded from or last committed: the compare-and-set guard. */
  baseOffset: number | null;
  nextOffset: number;
  maxEventTime: number | null;
  clicks: CountedClick[];
  deadLetters: DeadLetter[];
  /** Messages consumed since the last commit (clicks + malformed). */
  messages: number;
}

export class PartitionWindows {
  readonly partition: number;
  readonly #latenessMs: number;
  #baseOffset: number | null;
  #nextOffset: number | null;
  #maxEventTime: number | null;
  #clicks: CountedClick[] = [];
  #deadLetters: DeadLetter[] = [];
  #messages = 0;

  constructor(
    partition: number,
    committed: { nextOffset: number; maxEventTime: number | null } | null,
    latenessMs: number,
  ) {
    this.partition = partition;
    this.#latenessMs = latenessMs;
    this.#baseOffset = committed?.nextOffset ?? null;
    this.#nextOffset = committed?.nextOffset ?? null;
    this.#maxEventTime = committed?.maxEventTime ?? null;
  }

  /** The stored offset this state was loaded at or last committed (null: nothing stored yet). */
  get committedOffset(): number | null {
    return this.#baseOffset;
  }

  /** The offset the next message must have; null until the first message when nothing was stored. */
  get nextOffset(): number | null {
    return this.#nextOffset;
  }

  get maxEventTime(): number | null {
    return this.#maxEventTime;
  }

  get watermark(): number | null {
    return this.#maxEventTime === null ? null : this.#maxEventTime - this.#latenessMs;
  }

  /** Messages consumed and not yet committed. */
  get pending(): number {
    return this.#messages;
  }

  /** Consumed but not yet committed offsets exist (a flush has work, even if only to move offsets). */
  get dirty(): boolean {
    return this.#nextOffset !== this.#baseOffset;
  }

  /** Decides what one click is, updates the watermark, and buffers it for the next flush. */
  add(offset: number, click: ClickEvent): { disposition: Disposition; lagMs: number } {
    const newest = this.#maxEventTime ?? click.clickedAt;
    const lagMs = Math.max(0, newest - click.clickedAt);
    let disposition: Disposition;
    if (lagMs > this.#latenessMs) {
      disposition = 'dead_letter';
    } else if (windowStart(click.clickedAt) + MINUTE_MS <= newest) {
      disposition = 'late_counted';
    } else {
      disposition = 'on_time';
    }
    const deadLettered = disposition === 'dead_letter';
    // Written out rather than spread: one object shape for every buffered click.
    this.#clicks.push({
      impressionId: click.impressionId,
      adId: click.adId,
      campaignId: click.campaignId,
      clickedAt: click.clickedAt,
      dedup: click.dedup,
      partition: this.partition,
      offset,
      deadLettered,
    });
    if (deadLettered) {
      this.#deadLetters.push({
        partition: this.partition,
        offset,
        reason: 'too_late',
        key: click.adId,
        value: encodeClick(click),
        lagMs,
      });
    }
    this.#maxEventTime = Math.max(newest, click.clickedAt);
    this.#nextOffset = offset + 1;
    this.#messages++;
    return { disposition, lagMs };
  }

  /** A message that is not a click: dead-lettered as malformed, its offset consumed. */
  addMalformed(offset: number, key: Buffer | null, value: Buffer | null): void {
    this.#deadLetters.push({ partition: this.partition, offset, reason: 'malformed', key, value });
    this.#nextOffset = offset + 1;
    this.#messages++;
  }

  /** Everything a flush writes for this partition. */
  snapshot(): PartitionFlush {
    return {
      partition: this.partition,
      baseOffset: this.#baseOffset,
      nextOffset: this.#nextOffset ?? 0,
      maxEventTime: this.#maxEventTime,
      clicks: this.#clicks.slice(),
      deadLetters: this.#deadLetters.slice(),
      messages: this.#messages,
    };
  }

  /** After the flush committed: the committed offset becomes the new guard, the buffers empty. */
  committed(flush: PartitionFlush): void {
    this.#baseOffset = flush.nextOffset;
    this.#clicks = this.#clicks.slice(flush.clicks.length);
    this.#deadLetters = this.#deadLetters.slice(flush.deadLetters.length);
    this.#messages -= flush.messages;
  }
}
