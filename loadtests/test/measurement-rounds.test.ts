import { describe, expect, it } from 'vitest';
import { measurementRounds, type Step } from '../src/measurement-rounds.ts';

const label = (s: Step<string>) =>
  s.kind === 'start' ? `${s.variant} ${s.start}` : `bare@${s.cores} ${s.process}`;

describe('measurement rounds', () => {
  it('interleaves the configurations and the bare processes round by round, not in blocks', () => {
    const steps = measurementRounds(['lean', 'stack'], () => '0', 3, 3).map(label);
    expect(steps).toEqual([
      'lean 1',
      'stack 1',
      'bare@0 1',
      'lean 2',
      'stack 2',
      'bare@0 2',
      'lean 3',
      'stack 3',
      'bare@0 3',
    ]);
  });

  it('goes on with the side that has processes left, and measures each set of cores once a round', () => {
    // smoke: one start, three bare processes; --pin compare: the lean configuration also unpinned.
    expect(measurementRounds(['lean'], () => '0', 1, 3).map(label)).toEqual([
      'lean 1',
      'bare@0 1',
      'bare@0 2',
      'bare@0 3',
    ]);
    const cores = (v: string) => (v === 'lean unpinned' ? 'unpinned' : '0');
    expect(measurementRounds(['lean', 'stack', 'lean unpinned'], cores, 2, 1).map(label)).toEqual([
      'lean 1',
      'stack 1',
      'lean unpinned 1',
      'bare@0 1',
      'bare@unpinned 1',
      'lean 2',
      'stack 2',
      'lean unpinned 2',
    ]);
  });

  it('puts every set of cores after a start on it, which gives its bare processes their rate', () => {
    const steps = measurementRounds(['a', 'b'], (v) => v, 4, 3);
    for (const [i, step] of steps.entries()) {
      if (step.kind !== 'bare') continue;
      expect(steps.slice(0, i).some((s) => s.kind === 'start' && s.variant === step.cores)).toBe(true);
    }
    expect(steps.filter((s) => s.kind === 'start')).toHaveLength(8);
    expect(steps.filter((s) => s.kind === 'bare')).toHaveLength(6);
  });
});
