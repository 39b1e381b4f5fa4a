import type { Registry } from 'prom-client';

/** One label set's observations: per bucket (not cumulative; the last slot is +Inf), sum, count. */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(bounds: readonly number[], value: number): void {
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

interface ExportedValue {
  value: number;
  metricName: string;
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
}

/**
 * A Prometheus histogram in the exposition format prom-client writes for its own Histogram, for
 * the hot paths: prom-client builds, checks and hashes a label object on every observation, while
 * a subclass keeps its series in whatever structure its label values come in (Fastify's route,
 * method and status; a decision's source) and hands them over only when the registry is scraped.
 * Registered on a prom-client registry like any other metric.
 */
export abstract class ExposedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  protected readonly bounds: readonly number[];

  constructor(name: string, help: string, bounds: readonly number[], registry: Registry) {
    this.name = name;
    this.help = help;
    this.bounds = bounds;
    registry.registerMetric(this as never);
  }

  /** Every series with its labels, at scrape time. */
  protected abstract labelledSeries(): Iterable<[Record<string, string>, HistogramSeries]>;

  abstract reset(): void;

  /** What the registry writes: buckets cumulative, le first, then the registry's and the series' labels. */
  getForPromString() {
    const values: ExportedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const [shared, series] of this.labelledSeries()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += series.counts[i]!;
        values.push({ value: cumulative, metricName: bucket, labels: { le }, sharedLabels: shared });
      });
      values.push(
        { value: series.count, metricName: bucket, labels: { le: '+Inf' }, sharedLabels: shared },
        { value: series.sum, metricName: `${this.name}_sum`, labels: {}, sharedLabels: shared },
        { value: series.count, metricName: `${this.name}_count`, labels: {}, sharedLabels: shared },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The JSON form (registry.getMetricsAsJSON): each value's labels in one object. */
  get() {
    const data = this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...rest }) => ({
        ...rest,
        labels: { ...labels, ...sharedLabels },
      })),
    };
  }
}
