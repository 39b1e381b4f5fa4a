// Entry loaded with `node --import @sdlab/service-kit/instrument`, before the service's code,
// so the instrumentations can patch http, fastify, pg, ioredis and kafkajs as they load.
// The service's graceful shutdown flushes it (shutdownTelemetry). Without an OTLP endpoint the
// SDK is not even loaded: an untraced process keeps its memory and start-up time.
import { telemetryConfigured } from './trace-context.ts';

if (telemetryConfigured()) {
  const { defaultServiceName, startTelemetry } = await import('./telemetry.ts');
  // The SDK reads the name once, now: the service's own createService() comes too late for it.
  process.env.OTEL_SERVICE_NAME ??= defaultServiceName();
  startTelemetry();
}
