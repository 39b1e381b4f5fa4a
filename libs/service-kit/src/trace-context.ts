import {
  type Context,
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanOptions,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';

// Kept apart from telemetry.ts so a service that runs without tracing never loads the SDK (its
// exporters, gRPC and instrumentations are tens of MB of an idle process's memory).

// The SDK is started from the `--import` entry and stopped by the service's shutdown; a global
// slot joins the two even when one runs from src/ and the other from dist/.
export const SDK_KEY = Symbol.for('sdlab.telemetry.sdk');

/** Tracing is on when an OTLP endpoint is configured (the standard variables), and off otherwise. */
export function telemetryConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

const ROOT_SAMPLER_KEY = Symbol.for('sdlab.telemetry.root-sampler');

/** The rate-limiting root sampler, when the kit chose the sampler (not OTEL_TRACES_SAMPLER). */
export function setRootSampler(sampler: { wouldSample(): boolean }): void {
  (globalThis as Record<symbol, unknown>)[ROOT_SAMPLER_KEY] = sampler;
}

/** Whether a new root trace would be sampled now; true when another sampler decides. */
export function rootWouldSample(): boolean {
  const sampler = (globalThis as Record<symbol, { wouldSample(): boolean } | undefined>)[ROOT_SAMPLER_KEY];
  return sampler ? sampler.wouldSample() : true;
}

/** Whether this process started the SDK (through the `--import` entry or startTelemetry). */
export function telemetryStarted(): boolean {
  return (globalThis as Record<symbol, unknown>)[SDK_KEY] !== undefined;
}

/** Flushes and stops the SDK if one was started; a no-op otherwise. */
export async function shutdownTelemetry(): Promise<void> {
  const sdk = (globalThis as Record<symbol, { shutdown(): Promise<void> } | undefined>)[SDK_KEY];
  if (!sdk) return;
  delete (globalThis as Record<symbol, unknown>)[SDK_KEY];
  await sdk.shutdown();
}

/**
 * Trace context for hops no instrumentation sees (an outbox row, a pub/sub payload, a batch
 * window): store `traceContextCarrier()` with the payload, and run the far side inside
 * `withTraceContext(carrier, fn)`.
 */
export function traceContextCarrier(from: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(from, carrier);
  return carrier;
}

export function withTraceContext<T>(carrier: Record<string, string> | undefined, fn: () => T): T {
  const parent = carrier ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
  return context.with(parent, fn);
}

// @opentelemetry/core's suppressTracing key (createContextKey is Symbol.for, so the SDK sees the same
// key) without loading the SDK's core package into an untraced process.
const SUPPRESS_TRACING = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/**
 * Runs `fn` with tracing suppressed: no span of any instrumentation starts inside it, and none
 * takes a token of the rate-limiting sampler. For background work that carries no traced request
 * (a flush of untraced clicks): a root span there would be traced at the expense of requests.
 */
export function untraced<T>(fn: () => T): T {
  return context.with(context.active().setValue(SUPPRESS_TRACING, true), fn);
}

/**
 * The context one Redis command or SQL query runs in. Under a span that is not recording (work the
 * sampler left out) or with tracing suppressed, the span is taken out of it, so the Redis and
 * Postgres instrumentations (requireParentSpan) step aside at once: they would otherwise build the
 * query text, attributes and ids of a span that is thrown away, for every call of every unsampled
 * request. A command or a query is a leaf: it carries no trace context further, so no trace loses
 * a span it would have had.
 */
export function leafContext(ctx: Context): Context {
  if (ctx.getValue(SUPPRESS_TRACING) === true) return trace.deleteSpan(ctx);
  const span = trace.getSpan(ctx);
  return span !== undefined && !span.isRecording() ? trace.deleteSpan(ctx) : ctx;
}

/**
 * Runs a Redis command or a pg call in `leafContext(from)`: directly when that is already the
 * active context (the common case, no `context.with`), inside it otherwise.
 */
export function inLeafContext<T>(from: Context, run: () => T): T {
  const leaf = leafContext(from);
  return leaf === context.active() ? run() : context.with(leaf, run);
}

/**
 * Starts a span only where it will be recorded: under a sampled parent, or as a new trace's root
 * when the rate-limiting root sampler has a token now (or another sampler decides). Otherwise it
 * returns undefined and costs a token check: no ids, attributes or context for the work the
 * sampler leaves out, and none of its Redis or Postgres calls start a span (they have no parent).
 * What the kit does for a request (server-span.ts), for work that is not an HTTP request: a
 * WebSocket frame, a pub/sub delivery.
 */
export function startSpanIfSampled(
  tracer: Tracer,
  name: string,
  options: SpanOptions = {},
  parent: Context = context.active(),
): Span | undefined {
  if (!telemetryStarted()) return undefined;
  const parentSpan = trace.getSpan(parent);
  const wanted = parentSpan
    ? parentSpan.isRecording() || (parentSpan.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0
    : rootWouldSample();
  return wanted ? tracer.startSpan(name, options, parent) : undefined;
}
