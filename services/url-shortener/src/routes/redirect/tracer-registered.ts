import { ProxyTracerProvider, trace } from '@opentelemetry/api';

/**
 * Whether a tracer provider is registered: the kit's `--import` entry registers the SDK before any
 * of the service's modules load, or registers nothing when no OTLP endpoint is configured. Without
 * one every span is a no-op, so a handler asked once at registration need not ask the context for
 * its span on every request (`trace.getActiveSpan()` cost ~0.5 us a redirect with tracing off).
 * A provider this API copy cannot see into counts as registered.
 */
export function tracerRegistered(): boolean {
  const provider = trace.getTracerProvider();
  return (
    !(provider instanceof ProxyTracerProvider) ||
    provider.getDelegateTracer('@sdlab/url-shortener') !== undefined
  );
}
