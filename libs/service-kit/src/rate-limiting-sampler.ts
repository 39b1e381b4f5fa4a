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

  /**
   * Whether the next root span would be sampled, without taking the token: the kit's server span
   * asks first, so a request that will not be traced costs no span, ids or context at all.
   */
  wouldSample(): boolean {
    this.#refill();
    return this.#tokens >= 1;
  }

  shouldSample(
    _context: Context,
    _traceId: string,
    _name: string,
    _kind: SpanKind,
    _attributes: Attributes,
    _links: Link[],
  ): SamplingResult {
    this.#refill();
    if (this.#tokens < 1) return { decision: SamplingDecision.NOT_RECORD };
    this.#tokens -= 1;
    return { decision: SamplingDecision.RECORD_AND_SAMPLED };
  }

  toString(): string {
    return `RateLimitingSampler{${this.perSecond}/s}`;
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
    this.#last = now;
  }
}
