// The arithmetic that turns one run into a capacity figure that is the service's, not the load
// generator's: CPU per unit against a bare handler of the same shape at the same rate, and a
// verdict on whether the generator itself could hold the latency threshold at that rate.

/** A latency threshold such as `p(99)<10`: the percentile it reads and its bound in ms. */
export interface LatencyThreshold {
  percentile: number;
  ms: number;
}

/** `p(99)<10` -> { percentile: 99, ms: 10 }; anything else (rates, counts) -> undefined. */
export function parseLatencyThreshold(expression: string): LatencyThreshold | undefined {
  const match = /^p\((\d+(?:\.\d+)?)\)\s*<=?\s*(\d+(?:\.\d+)?)$/.exec(expression.trim());
  if (!match) return undefined;
  return { percentile: Number(match[1]), ms: Number(match[2]) };
}

/**
 * Whether a rate is the generator's limit: the bare handler of the same shape, at the same rate
 * on the same machine, already spends more than half of the threshold at p99. Past that point a
 * broken (or barely held) threshold says more about k6 and the machine than about the service.
 */
export function generatorBound(bareP99Ms: number, threshold: LatencyThreshold): boolean {
  return bareP99Ms > threshold.ms / 2;
}

/** CPU milliseconds per unit of work (request, decision, delivered message); undefined without work. */
export function msPerUnit(cpuMs: number, units: number): number | undefined {
  return units > 0 && cpuMs > 0 ? cpuMs / units : undefined;
}

export interface EfficiencyInput {
  /** The service's CPU time (all of its processes) per request of its main shape (or per delivered message). */
  serviceMsPerRequest: number;
  /** The bare handler's CPU time per request of the same shape, at the same rate, in the same run. */
  bareMsPerRequest: number;
  /** The service's CPU time per unit of throughput (a request, a decision, a successful hold). */
  serviceMsPerUnit: number;
  /** The documented fleet-wide throughput, in the same unit. */
  documentedPerS: number;
}

export interface Efficiency extends EfficiencyInput {
  /** bare / service per request: 1 means the service costs what the framework alone costs; 0.5 twice that. */
  ratio: number;
  /** Units one core could serve if CPU were the only limit: 1000 / serviceMsPerUnit. */
  unitsPerCore: number;
  /** The documented fleet-wide throughput over unitsPerCore: cores, not instances of this machine. */
  coresForDocumented: number;
}

export function efficiency(input: EfficiencyInput): Efficiency {
  const unitsPerCore = 1000 / input.serviceMsPerUnit;
  return {
    ...input,
    ratio: input.bareMsPerRequest / input.serviceMsPerRequest,
    unitsPerCore,
    coresForDocumented: input.documentedPerS / unitsPerCore,
  };
}

/**
 * Cores to give k6 and the service processes so that neither measures the other: k6 gets the
 * upper half of the cores (at least one), the services the rest. The servers (Redis, Postgres,
 * Kafka, Elasticsearch) are not pinned. Undefined on a one-core machine, where nothing can be apart.
 */
export function coreSplit(cores: number): { service: string; k6: string } | undefined {
  if (cores < 2) return undefined;
  const k6Cores = Math.max(1, Math.floor(cores / 2));
  const serviceLast = cores - k6Cores - 1;
  const range = (from: number, to: number) => (from === to ? `${from}` : `${from}-${to}`);
  return { service: range(0, serviceLast), k6: range(serviceLast + 1, cores - 1) };
}

/** The value at share `p` (0–1) of an ascending array: what the closed-loop benches report as p50/p95/p99. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : 0;
}
