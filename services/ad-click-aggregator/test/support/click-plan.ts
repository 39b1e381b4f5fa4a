import type { Producer } from 'kafkajs';
import { type ClickEvent, encodeClick } from '../../src/domain/click-event.ts';
import { increment } from './counts.ts';

const MIN = 60_000;

/** One message the generator produces straight to a partition, and whether it should count. */
export interface Planned {
  partition: number;
  event: ClickEvent;
  /** False for too-late clicks (dead-lettered). */
  counts: boolean;
}

/**
 * Clicks of known fate, produced straight to the clicks topic (what the ingest's shipper does),
 * with explicit partitions so each partition's watermark is known. Copies of a message (same
 * impression and click time, as a spool replay after an ingest crash would produce) count once.
 */
export class ClickPlan {
  readonly messages: Planned[] = [];
  #serial = 0;

  click(partition: number, clickedAt: number, counts = true): ClickEvent {
    const ad = `ad-p${partition}-${this.#serial % 4}`;
    const event: ClickEvent = {
      impressionId:
        `${ad}.c.${(clickedAt / 1000).toString(36).slice(0, 8)}.n${String(this.#serial++).padStart(7, '0')}.${'s'.repeat(22)}`.slice(
          0,
          96,
        ),
      adId: ad,
      campaignId: 'c',
      clickedAt,
      dedup: 'redis',
    };
    this.messages.push({ partition, event, counts });
    return event;
  }

  /** The same click produced again. */
  copy(partition: number, event: ClickEvent, counts = true): void {
    this.messages.push({ partition, event, counts });
  }

  /** In-order clicks for every partition from `start`, `stepMs` apart, with a copy every `copyEvery`. */
  steady(partitions: number, perPartition: number, start: number, stepMs: number, copyEvery = 0): void {
    for (let i = 0; i < perPartition; i++) {
      for (let p = 0; p < partitions; p++) {
        const e = this.click(p, start + i * stepMs);
        if (copyEvery && i % copyEvery === copyEvery - 1) this.copy(p, e);
      }
    }
  }

  /**
   * Per partition: a frontier click at F, then `late` clicks 3 minutes behind it (counted, the
   * windows are corrected), `tooLate` clicks 8 minutes behind (dead-lettered), then on-time ones.
   */
  lateRound(partitions: number, F: number, late: number, tooLate: number, onTime: number): void {
    for (let p = 0; p < partitions; p++) {
      this.click(p, F);
      for (let j = 0; j < late; j++) this.click(p, F - 3 * MIN + j * 100);
      for (let j = 0; j < tooLate; j++) this.click(p, F - 8 * MIN + j * 100, false);
      for (let j = 0; j < onTime; j++) this.click(p, F + 1000 + j * 100);
    }
  }

  /** Expected per-window counts: each distinct counting click once. */
  expected(): Map<string, number> {
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    for (const m of this.messages) {
      const key = `${m.event.impressionId}|${m.event.clickedAt}`;
      if (!m.counts || seen.has(key)) continue;
      seen.add(key);
      increment(
        counts,
        `${m.event.adId}|${new Date(m.event.clickedAt - (m.event.clickedAt % MIN)).toISOString()}`,
      );
    }
    return counts;
  }

  get tooLate(): number {
    return this.messages.filter((m) => !m.counts).length;
  }

  get copies(): number {
    return (
      this.messages.length -
      new Set(this.messages.map((m) => `${m.event.impressionId}|${m.event.clickedAt}`)).size
    );
  }

  /** Produces messages [from, to) in order, 500 per request. */
  async produce(producer: Producer, topic: string, from = 0, to = this.messages.length): Promise<void> {
    for (let i = from; i < to; i += 500) {
      await producer.send({
        topic,
        acks: -1,
        messages: this.messages.slice(i, Math.min(to, i + 500)).map((m) => ({
          partition: m.partition,
          key: m.event.adId,
          value: encodeClick(m.event),
        })),
      });
    }
  }
}
