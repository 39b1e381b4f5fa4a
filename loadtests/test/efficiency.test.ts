import { describe, expect, it } from 'vitest';
import {
  coreSplit,
  efficiency,
  generatorBound,
  msPerUnit,
  parseLatencyThreshold,
} from '../src/efficiency.ts';

describe('efficiency arithmetic', () => {
  it('reads latency thresholds and ignores the others', () => {
    expect(parseLatencyThreshold('p(99)<10')).toEqual({ percentile: 99, ms: 10 });
    expect(parseLatencyThreshold('p(95)<=50.5')).toEqual({ percentile: 95, ms: 50.5 });
    expect(parseLatencyThreshold('rate<0.0001')).toBeUndefined();
    expect(parseLatencyThreshold('count==0')).toBeUndefined();
  });

  // Recorded on the reference 2-core machine (issue 15): k6 against the bare handler alone had
  // p99 13 ms at 5,000 req/s and 6.5 ms at 5,000 req/s beside the rate-limiter; at 675/s, 2.3 ms.
  it('calls a rate generator-bound when the bare handler already spends over half the threshold', () => {
    const checks = { percentile: 99, ms: 10 };
    expect(generatorBound(13, checks)).toBe(true);
    expect(generatorBound(6.5, checks)).toBe(true);
    expect(generatorBound(2.3, checks)).toBe(false);
    expect(generatorBound(5, checks)).toBe(false);
    // The redirect threshold is p(95)<50: a bare p99 of 19 ms leaves the service room to be measured.
    expect(generatorBound(19, { percentile: 95, ms: 50 })).toBe(false);
  });

  // Recorded: rate-limiter T1805 (675 checks/s, 3 min): the service used 0.35 cores = 63,000 ms of
  // CPU over 121,500 checks; a bare POST at the same rate cost 0.09 ms per request.
  it('turns CPU per request into the efficiency ratio, requests per core and cores for the documented figure', () => {
    const perCheck = msPerUnit(63_000, 121_500)!;
    expect(perCheck).toBeCloseTo(0.5185, 4);
    const e = efficiency({
      serviceMsPerRequest: perCheck,
      bareMsPerRequest: 0.09,
      serviceMsPerUnit: perCheck,
      documentedPerS: 100_000,
    });
    expect(e.ratio).toBeCloseTo(0.1736, 3);
    expect(e.unitsPerCore).toBeCloseTo(1928.6, 1);
    expect(e.coresForDocumented).toBeCloseTo(51.85, 2);
  });

  it('counts throughput per its own unit: batch decisions per core from CPU per call', () => {
    // 20 checks a call at 0.8 ms of CPU per call: 0.04 ms per decision, 25,000 decisions per core.
    const e = efficiency({
      serviceMsPerRequest: 0.8,
      bareMsPerRequest: 0.2,
      serviceMsPerUnit: 0.04,
      documentedPerS: 100_000,
    });
    expect(e.ratio).toBe(0.25);
    expect(e.unitsPerCore).toBe(25_000);
    expect(e.coresForDocumented).toBe(4);
  });

  it('has no figure without work', () => {
    expect(msPerUnit(100, 0)).toBeUndefined();
    expect(msPerUnit(0, 100)).toBeUndefined();
  });

  it('puts k6 and the services on cores of their own, and nothing apart on one core', () => {
    expect(coreSplit(1)).toBeUndefined();
    expect(coreSplit(2)).toEqual({ service: '0', k6: '1' });
    expect(coreSplit(4)).toEqual({ service: '0-1', k6: '2-3' });
    expect(coreSplit(3)).toEqual({ service: '0-1', k6: '2' });
  });
});
