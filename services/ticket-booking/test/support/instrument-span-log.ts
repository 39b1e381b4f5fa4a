// Test entry in place of `@sdlab/service-kit/instrument`: the real SDK and instrumentations, with
// finished spans written to stdout as JSON lines (an in-process exporter) for the parent test.
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import { startTelemetry } from '@sdlab/service-kit/telemetry';

const spansToStdout: SpanProcessor = {
  onStart() {},
  onEnd(span: ReadableSpan) {
    const { traceId, spanId } = span.spanContext();
    const line = {
      span: span.name,
      traceId,
      spanId,
      parentSpanId: span.parentSpanContext?.spanId,
      attributes: span.attributes,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  },
  forceFlush: async () => {},
  shutdown: async () => {},
};

startTelemetry({
  serviceName: process.env.OTEL_SERVICE_NAME ?? 'ticket-booking',
  spanProcessors: [spansToStdout],
});
