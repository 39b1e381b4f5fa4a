/** A step of a run: one fresh start of the service in a configuration, or one bare process on a set of cores. */
export type Step<V> =
  | { kind: 'start'; variant: V; start: number }
  | { kind: 'bare'; cores: string; process: number };

/**
 * The order a run measures in: rounds, each one start of every configuration and then one bare
 * process on each set of cores the configurations use (lean 1, stack 1, bare 1, lean 2, …), so
 * each side of a ratio is sampled across the whole run, not in a block of its own that a shared
 * machine's drift can land on. Rounds go on while either side has processes left; a set of cores'
 * bare processes come after the round's starts, which give the rate they run at.
 */
export function measurementRounds<V>(
  variants: readonly V[],
  coresOf: (variant: V) => string,
  serviceProcesses: number,
  bareProcesses: number,
): Step<V>[] {
  const cores = [...new Set(variants.map(coresOf))];
  const steps: Step<V>[] = [];
  for (let round = 1; round <= Math.max(serviceProcesses, bareProcesses); round++) {
    if (round <= serviceProcesses)
      for (const variant of variants) steps.push({ kind: 'start', variant, start: round });
    if (round <= bareProcesses) for (const c of cores) steps.push({ kind: 'bare', cores: c, process: round });
  }
  return steps;
}
