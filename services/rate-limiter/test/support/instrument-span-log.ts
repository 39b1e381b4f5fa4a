// Loaded with `--import` in place of `@sdlab/service-kit/instrument`: the real SDK and
// instrumentations, with every finished span written to stdout as a JSON line for the test to read.
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

startTelemetry({ serviceName: 'rate-limiter', spanProcessors: [spansToStdout] });
