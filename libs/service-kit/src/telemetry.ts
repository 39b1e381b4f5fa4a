import { readFileSync } from 'node:fs';
import { register } from 'node:module';
import { basename, join } from 'node:path';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { type Context, context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';

/** Paths probed many times a second by orchestrators and Prometheus; tracing them is noise. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export interface TelemetryOptions {
  serviceName?: string;
  /** Replaces the OTLP exporter, e.g. with an in-memory one in tests. */
  spanProcessors?: SpanProcessor[];
}

/**
 * `url-shortener` for a service started from services/url-shortener, `url-shortener-worker` when
 * its entry is worker.ts/worker.js: the package name in the working directory plus the entry's
 * role, the same names the services give createService().
 */
export function defaultServiceName(cwd = process.cwd(), entry = process.argv[1] ?? ''): string {
  let name = basename(cwd);
  try {
    const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as { name?: string };
    if (pkg.name) name = pkg.name.replace(/^@[^/]+\//, '');
  } catch {
    // no package.json: the folder name will do
  }
  const role = basename(entry).replace(/\.(c|m)?(j|t)s$/, '');
  return role && role !== 'main' && role !== 'index' ? `${name}-${role}` : name;
}

/** Tracing is on when an OTLP endpoint is configured (the standard variables), and off otherwise. */
export function telemetryConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Starts the OpenTelemetry SDK. It must run before fastify, pg, ioredis and kafkajs are loaded,
 * which is why services start through `--import @sdlab/service-kit/instrument`.
 * Metrics stay with prom-client (/metrics), so the SDK's own metric and log exporters are off.
 */
export function startTelemetry(options: TelemetryOptions = {}): NodeSDK {
  // Services are ES modules: `import pg from 'pg'` never passes through `require`, so the
  // instrumentations only see it through this loader hook.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  const sdk = new NodeSDK({
    ...(options.serviceName ? { serviceName: options.serviceName } : {}),
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?')[0] ?? ''),
      }),
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        ignorePaths: (route) => UNTRACED_PATHS.has(route.url),
      }),
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
      new KafkaJsInstrumentation(),
    ],
  });
  sdk.start();
  (globalThis as Record<symbol, unknown>)[SDK_KEY] = sdk;
  return sdk;
}

// The SDK is started from the `--import` entry and stopped by the service's shutdown; a global
// slot joins the two even when one runs from src/ and the other from dist/.
const SDK_KEY = Symbol.for('sdlab.telemetry.sdk');

/** Flushes and stops the SDK if one was started; a no-op otherwise. */
export async function shutdownTelemetry(): Promise<void> {
  const sdk = (globalThis as Record<symbol, NodeSDK | undefined>)[SDK_KEY];
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
