import { describe, expect, it } from 'vitest';
import { closedLoopBottleneck, decidedByRedis, durationSeconds } from '../src/batch-closed-loop.ts';

describe('batch closed loop', () => {
  const decision = (source: string) => `{"allowed":true,"remaining":9,"source":"${source}"}`;
  const answer = (...sources: string[]) => `{"decisions":[${sources.map(decision).join(',')}]}`;

  it('counts a call only when every check was decided by Redis', () => {
    expect(decidedByRedis(200, answer('redis', 'redis', 'redis'), 3)).toBe(true);
    expect(decidedByRedis(200, answer('redis', 'local-fallback', 'redis'), 3)).toBe(false);
    expect(decidedByRedis(200, answer('redis', 'redis'), 3)).toBe(false);
    expect(decidedByRedis(503, answer('redis', 'redis', 'redis'), 3)).toBe(false);
  });

  it('names the saturated thread, the busiest first', () => {
    expect(closedLoopBottleneck({ machineBusy: 0.99, service: 0.6, redis: 0.95, generator: 0.4 }, 2)).toBe(
      'Redis (one thread): 0.95 cores',
    );
    expect(closedLoopBottleneck({ machineBusy: 0.97, service: 0.7, redis: 0.7, generator: 0.5 }, 2)).toMatch(
      /^the machine's 2 cores \(97 % busy; the largest share/,
    );
    expect(closedLoopBottleneck({ machineBusy: 0.5, service: 0.3, redis: 0.2, generator: 0.1 }, 2)).toMatch(
      /^no part saturated/,
    );
  });

  it('reads k6-style durations', () => {
    expect(durationSeconds('45s')).toBe(45);
    expect(durationSeconds('2m')).toBe(120);
    expect(durationSeconds('1m30s')).toBe(90);
    expect(durationSeconds('soon')).toBeUndefined();
    expect(durationSeconds('')).toBeUndefined();
  });
});
