// Entry loaded with `node --import @sdlab/service-kit/instrument`, before the service's code,
// so the instrumentations can patch http, fastify, pg, ioredis and kafkajs as they load.
// The service's graceful shutdown flushes it (shutdownTelemetry).
import { defaultServiceName, startTelemetry, telemetryConfigured } from './telemetry.ts';

if (telemetryConfigured()) {
  // The SDK reads the name once, now: the service's own createService() comes too late for it.
  process.env.OTEL_SERVICE_NAME ??= defaultServiceName();
  startTelemetry();
}
