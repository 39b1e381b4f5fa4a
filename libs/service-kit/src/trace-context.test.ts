import { ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { AlwaysOnSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { leafContext } from './trace-context.ts';

describe('leafContext', () => {
  const recording = new TracerProvider({ sampler: new AlwaysOnSampler() })
    .getTracer('test')
    .startSpan('request');
  const unsampled = trace.wrapSpanContext({
    traceId: 'a1'.repeat(16),
    spanId: 'b2'.repeat(8),
    traceFlags: TraceFlags.NONE,
  });

  it('keeps a recording parent, so the command gets its span', () => {
    const ctx = trace.setSpan(ROOT_CONTEXT, recording);
    expect(leafContext(ctx)).toBe(ctx);
    expect(trace.getSpan(leafContext(ctx))).toBe(recording);
  });

  it('takes out a parent that is not recording, so the instrumentation steps aside', () => {
    const ctx = trace.setSpan(ROOT_CONTEXT, unsampled);
    expect(unsampled.isRecording()).toBe(false);
    expect(trace.getSpan(leafContext(ctx))).toBeUndefined();
  });

  it('takes out the parent where tracing is suppressed', () => {
    const ctx = trace.setSpan(ROOT_CONTEXT, recording);
    const suppressed = suppressTracing(ctx);
    expect(trace.getSpan(suppressed)).toBe(recording);
    expect(trace.getSpan(leafContext(suppressed))).toBeUndefined();
  });

  it('leaves a context without a span as it is', () => {
    expect(leafContext(ROOT_CONTEXT)).toBe(ROOT_CONTEXT);
  });
});
