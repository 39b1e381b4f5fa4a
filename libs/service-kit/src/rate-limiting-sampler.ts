import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api';
import { type Sampler, SamplingDecision, type SamplingResult } from '@opentelemetry/sdk-trace';

/**
 * Samples at most `perSecond` new traces a second, spread by a token bucket (burst: one second's
 * worth): at a person's pace every request is traced, under load the traced rate stays flat, so
 * tracing costs what exporting a few traces a second costs whatever the request rate. Used as the
 * root sampler under ParentBased, so a trace that started elsewhere keeps its caller's decision.
 */
export class RateLimitingSampler implements Sampler {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #last = performance.now();
  readonly perSecond: number;

  constructor(perSecond: number) {
    this.perSecond = perSecond;
    this.#perMs = perSecond / 1000;
    this.#burst = Math.max(1, perSecond);
    this.#tokens = this.#burst;
  }

  shouldSample(
    _context: Context,
    _traceId: string,
    _name: string,
    _kind: SpanKind,
    _attributes: Attributes,
    _links: Link[],
  ): SamplingResult {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
    this.#last = now;
    if (this.#tokens < 1) return { decision: SamplingDecision.NOT_RECORD };
    this.#tokens -= 1;
    return { decision: SamplingDecision.RECORD_AND_SAMPLED };
  }

  toString(): string {
    return `RateLimitingSampler{${this.perSecond}/s}`;
  }
}
