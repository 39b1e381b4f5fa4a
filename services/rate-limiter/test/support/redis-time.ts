import type { Redis } from 'ioredis';

/** Redis's clock in ms: the clock the scripts use, so windows are aligned to it, not to ours. */
export async function redisNow(client: Redis): Promise<number> {
  const [seconds, micros] = await client.time();
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Waits, if needed, so at least `marginMs` remain before the current window of `windowMs` ends. */
export async function awayFromEdge(client: Redis, windowMs: number, marginMs: number): Promise<void> {
  const now = await redisNow(client);
  const left = windowMs - (now % windowMs);
  if (left < marginMs) await sleep(left + 20);
}
