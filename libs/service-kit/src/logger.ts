import { isSpanContextValid, trace } from '@opentelemetry/api';
import type { LoggerOptions } from 'pino';
import { telemetryStarted } from './trace-context.ts';

/**
 * pino options shared by services and workers: JSON to stdout, each line stamped with the
 * active trace so a log line leads straight to its trace in Jaeger.
 */
export function loggerOptions(name: string, level: string): LoggerOptions {
  return {
    name,
    level,
    messageKey: 'msg',
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: { level: (label) => ({ level: label }) },
    // Without the SDK (started by the `--import` entry before any service module loads) no span is
    // ever active: no lookup per line.
    ...(telemetryStarted() ? { mixin: traceIds } : {}),
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
  };
}

function traceIds(): object {
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (!spanContext || !isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
