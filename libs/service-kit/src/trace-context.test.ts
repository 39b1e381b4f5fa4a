import { context, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { suppressTracing } from '@opentelemetry/core';
import { AlwaysOnSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inLeafContext, leafContext } from './trace-context.ts';

/** A span the SDK records (a sampled request's) and one from an unsampled caller. */
const recording = new TracerProvider({ sampler: new AlwaysOnSampler() })
  .getTracer('test')
  .startSpan('request');
const unsampled = trace.wrapSpanContext({
  traceId: 'a1'.repeat(16),
  spanId: 'b2'.repeat(8),
  traceFlags: TraceFlags.NONE,
});

describe('leafContext', () => {
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

describe('inLeafContext', () => {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => context.setGlobalContextManager(manager.enable()));
  afterAll(() => {
    context.disable();
    manager.disable();
  });

  it('runs in the leaf of the context it is given, not the active one', () => {
    const queuedIn = trace.setSpan(ROOT_CONTEXT, recording);
    const spanSeen = context.with(trace.setSpan(ROOT_CONTEXT, unsampled), () =>
      inLeafContext(queuedIn, () => trace.getSpan(context.active())),
    );
    expect(spanSeen).toBe(recording);
  });

  it('runs without a parent that is not recording', () => {
    const ctx = trace.setSpan(ROOT_CONTEXT, unsampled);
    const spanSeen = context.with(ctx, () =>
      inLeafContext(context.active(), () => trace.getSpan(context.active())),
    );
    expect(spanSeen).toBeUndefined();
  });

  it('runs in the active context itself when that is already its leaf', () => {
    const ctx = trace.setSpan(ROOT_CONTEXT, recording);
    const contextSeen = context.with(ctx, () => inLeafContext(context.active(), () => context.active()));
    expect(contextSeen).toBe(ctx);
  });

  it('returns what it runs', () => {
    expect(inLeafContext(ROOT_CONTEXT, () => 42)).toBe(42);
  });
});
