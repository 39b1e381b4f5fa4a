// Entry loaded with `node --import @sdlab/service-kit/instrument`, before the service's code,
// so the instrumentations can patch http, fastify, pg, ioredis and kafkajs as they load.
// The service's graceful shutdown flushes it (shutdownTelemetry).
import { startTelemetry, telemetryConfigured } from './telemetry.ts';

if (telemetryConfigured()) startTelemetry();
