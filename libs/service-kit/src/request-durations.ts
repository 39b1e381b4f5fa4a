import type { Registry } from 'prom-client';
import { ExposedHistogram, HistogramSeries } from './exposed-histogram.ts';

/**
 * http_request_duration_seconds, a Prometheus histogram by route, method and status code. An
 * observation is three Map lookups and a bucket increment, since the label values come straight
 * from Fastify (prom-client's Histogram would build and hash a label object each time).
 */
export class RequestDurations extends ExposedHistogram {
  readonly #series = new Map<string, Map<string, Map<number, HistogramSeries>>>();

  constructor(bounds: readonly number[], registry: Registry) {
    super(
      'http_request_duration_seconds',
      'HTTP request duration in seconds, by route pattern, method and status code',
      bounds,
      registry,
    );
  }

  observe(route: string, method: string, statusCode: number, seconds: number): void {
    let byMethod = this.#series.get(route);
    if (!byMethod) {
      byMethod = new Map();
      this.#series.set(route, byMethod);
    }
    let byStatus = byMethod.get(method);
    if (!byStatus) {
      byStatus = new Map();
      byMethod.set(method, byStatus);
    }
    let series = byStatus.get(statusCode);
    if (!series) {
      series = new HistogramSeries(this.bounds);
      byStatus.set(statusCode, series);
    }
    series.observe(this.bounds, seconds);
  }

  protected *labelledSeries(): Iterable<[Record<string, string>, HistogramSeries]> {
    for (const [route, byMethod] of this.#series) {
      for (const [method, byStatus] of byMethod) {
        for (const [status, series] of byStatus) {
          yield [{ route, method, status_code: String(status) }, series];
        }
      }
    }
  }

  reset(): void {
    this.#series.clear();
  }
}
