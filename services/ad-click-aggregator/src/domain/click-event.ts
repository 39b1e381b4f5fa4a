import { AD_ID_PATTERN, IMPRESSION_MAX_LENGTH } from './impression.ts';

/**
 * One accepted click: the value of a message on the clicks topic (keyed by ad id) and a line of the
 * ingest spool. `clickedAt` is the event time the windows use: the ingest's clock when the click
 * arrived, kept through the spool so a click delivered late still lands in its own minute.
 */
export interface ClickEvent {
  impressionId: string;
  adId: string;
  campaignId: string;
  /** Event time, ms since the epoch. */
  clickedAt: number;
  /** `redis`: checked against the dedup set; `unchecked`: Redis was unavailable (failed open). */
  dedup: 'redis' | 'unchecked';
}

/** A spooled click also carries the trace context of the request that accepted it. */
export interface SpoolRecord extends ClickEvent {
  trace?: Record<string, string>;
}

const AD_ID = new RegExp(AD_ID_PATTERN);
/** Clicks outside these years are not events this service produced. */
const MIN_TIME = Date.UTC(2000, 0, 1);
const MAX_TIME = Date.UTC(2200, 0, 1);

export function encodeClick(event: ClickEvent): string {
  return JSON.stringify({
    impressionId: event.impressionId,
    adId: event.adId,
    campaignId: event.campaignId,
    clickedAt: event.clickedAt,
    dedup: event.dedup,
  });
}

/** Parses a message value; `undefined` for anything that is not a click this service wrote. */
export function decodeClick(value: Buffer | string | null | undefined): ClickEvent | undefined {
  if (value === null || value === undefined || value.length > 4096) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch {
    return undefined;
  }
  return asClick(parsed);
}

export function asClick(parsed: unknown): ClickEvent | undefined {
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const v = parsed as Record<string, unknown>;
  if (
    typeof v.impressionId !== 'string' ||
    v.impressionId.length === 0 ||
    v.impressionId.length > IMPRESSION_MAX_LENGTH ||
    typeof v.adId !== 'string' ||
    !AD_ID.test(v.adId) ||
    typeof v.campaignId !== 'string' ||
    !AD_ID.test(v.campaignId) ||
    typeof v.clickedAt !== 'number' ||
    !Number.isSafeInteger(v.clickedAt) ||
    v.clickedAt < MIN_TIME ||
    v.clickedAt >= MAX_TIME ||
    (v.dedup !== 'redis' && v.dedup !== 'unchecked')
  ) {
    return undefined;
  }
  return {
    impressionId: v.impressionId,
    adId: v.adId,
    campaignId: v.campaignId,
    clickedAt: v.clickedAt,
    dedup: v.dedup,
  };
}
