import type { Granularity } from '../keys.ts';

export type { Granularity };

export const GRANULARITY_MS: Record<Granularity, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** The roll-up table of each granularity (a fixed list: never built from input). */
export const TABLE: Record<Granularity, string> = {
  minute: 'adclick.clicks_minute',
  hour: 'adclick.clicks_hour',
  day: 'adclick.clicks_day',
};

export const GRANULARITIES: Granularity[] = ['minute', 'hour', 'day'];

/** UTC windows: minutes, hours and days have fixed lengths in UTC, so flooring is arithmetic. */
export const floorTo = (time: number, g: Granularity): number =>
  time - (((time % GRANULARITY_MS[g]) + GRANULARITY_MS[g]) % GRANULARITY_MS[g]);
export const ceilTo = (time: number, g: Granularity): number => {
  const floor = floorTo(time, g);
  return floor === time ? time : floor + GRANULARITY_MS[g];
};
