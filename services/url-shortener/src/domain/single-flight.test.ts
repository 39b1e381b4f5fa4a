import { describe, expect, it } from 'vitest';
import { SingleFlight } from './single-flight.ts';

describe('single-flight', () => {
  it('runs one load for concurrent callers of one key and gives all of them its result', async () => {
    const flight = new SingleFlight<string>();
    let loads = 0;
    let joined = 0;
    let release!: (value: string) => void;
    const load = () => {
      loads++;
      return new Promise<string>((resolve) => {
        release = resolve;
      });
    };
    const callers = Array.from({ length: 200 }, () => flight.run('k', load, () => joined++));
    release('value');
    expect(await Promise.all(callers)).toEqual(Array(200).fill('value'));
    expect(loads).toBe(1);
    expect(joined).toBe(199);
    expect(flight.size).toBe(0);
  });

  it('shares a failure, then lets the next call try again', async () => {
    const flight = new SingleFlight<string>();
    let loads = 0;
    const failing = () => {
      loads++;
      return Promise.reject(new Error('down'));
    };
    const results = await Promise.allSettled([flight.run('k', failing), flight.run('k', failing)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(loads).toBe(1);
    expect(await flight.run('k', async () => 'up')).toBe('up');
  });

  it('keeps keys apart', async () => {
    const flight = new SingleFlight<string>();
    const [a, b] = await Promise.all([flight.run('a', async () => 'A'), flight.run('b', async () => 'B')]);
    expect([a, b]).toEqual(['A', 'B']);
  });
});
