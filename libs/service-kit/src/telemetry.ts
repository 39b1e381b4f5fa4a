import { readFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { basename, join } from 'node:path';
import {
  context,
  DiagConsoleLogger,
  diag,
  propagation,
  type TextMapPropagator,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  diagLogLevelFromString,
  getNumberFromEnv,
  getStringFromEnv,
  getStringListFromEnv,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
} from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { RateLimitingSampler } from './rate-limiting-sampler.ts';
import { SDK_KEY, setRootSampler } from './trace-context.ts';

export interface TelemetryOptions {
  serviceName?: string;
  /** Replaces the OTLP exporter, e.g. with an in-memory one in tests. */
  spanProcessors?: SpanProcessor[];
}

/** New traces a process starts per second at most, unless OTEL_TRACES_SAMPLER names another sampler. */
export const DEFAULT_TRACES_PER_SECOND = 10;

/**
 * The standard OTEL_TRACES_SAMPLER, when set, wins (samplerFromEnv reads it). Otherwise: follow the
 * caller's decision, and start at most SDLAB_TRACES_PER_SECOND traces a second of our own.
 */
export function defaultSampler(env: NodeJS.ProcessEnv = process.env): Sampler | undefined {
  if (env.OTEL_TRACES_SAMPLER) return undefined;
  const perSecond = Number(env.SDLAB_TRACES_PER_SECOND ?? DEFAULT_TRACES_PER_SECOND);
  if (!Number.isFinite(perSecond) || perSecond < 0)
    throw new Error(`SDLAB_TRACES_PER_SECOND must be a number >= 0, got "${env.SDLAB_TRACES_PER_SECOND}"`);
  const root = new RateLimitingSampler(perSecond);
  setRootSampler(root);
  return new ParentBasedSampler({ root });
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

/** What the kit started; `shutdownTelemetry()` flushes the spans still queued and stops it. */
export interface Telemetry {
  shutdown(): Promise<void>;
}

/**
 * Starts tracing. It must run before fastify, pg, ioredis and kafkajs are loaded, which is why
 * services start through `--import @sdlab/service-kit/instrument`. Metrics stay with prom-client
 * (/metrics); the SDK's metrics and logs are not loaded at all.
 *
 * The tracer provider is put together from the parts the kit uses, as `@opentelemetry/sdk-node`'s
 * NodeSDK put them together (its resource detectors, W3C propagators, AsyncLocalStorage context,
 * the standard OTEL_* variables the kit's configuration uses), without NodeSDK itself: that
 * package imports every exporter it can choose from at load time (OTLP over gRPC with
 * @grpc/grpc-js, Zipkin, the metrics and logs SDKs and their exporters), ~20 MB of an idle
 * traced process's memory for code the kit never runs.
 */
export function startTelemetry(options: TelemetryOptions = {}): Telemetry {
  const logLevel = getStringFromEnv('OTEL_LOG_LEVEL');
  if (logLevel) diag.setLogger(new DiagConsoleLogger(), { logLevel: diagLogLevelFromString(logLevel) });
  // One server span per request, made by the kit (server-span.ts) and only for a request that
  // is sampled, plus one per call to a dependency. The http instrumentation traces outgoing calls
  // only: on incoming ones it computed attributes, made a span and patched the request's and
  // response's emitters for every request, sampled or not (a quarter of the CPU of a check with
  // 10 traces/s sampled). @fastify/otel is not here either: a span per hook and handler.
  const instrumentations = [
    new HttpInstrumentation({ disableIncomingRequestInstrumentation: true }),
    new PgInstrumentation({ requireParentSpan: true }),
    new IORedisInstrumentation({ requireParentSpan: true }),
    new KafkaJsInstrumentation(),
  ];
  registerModuleHooks(instrumentations.flatMap((i) => i.getModuleDefinitions().map((d) => d.name)));
  registerInstrumentations({ instrumentations });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const propagator = propagatorFromEnv();
  if (propagator) propagation.setGlobalPropagator(propagator);

  let resource = defaultResource().merge(
    detectResources({
      detectors: [serviceInstanceIdDetector, processDetector, hostDetector, osDetector, envDetector],
    }),
  );
  if (options.serviceName)
    resource = resource.merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }));

  const provider = new TracerProvider({
    resource,
    sampler: defaultSampler() ?? samplerFromEnv(),
    spanLimits: spanLimitsFromEnv(),
    spanProcessors: options.spanProcessors ?? spanProcessorsFromEnv(),
  });
  trace.setGlobalTracerProvider(provider);
  const telemetry: Telemetry = { shutdown: () => provider.shutdown() };
  (globalThis as Record<symbol, unknown>)[SDK_KEY] = telemetry;
  return telemetry;
}

/** OTEL_PROPAGATORS (tracecontext, baggage, none); W3C trace context and baggage by default. */
function propagatorFromEnv(): TextMapPropagator | undefined {
  const names = [...new Set(getStringListFromEnv('OTEL_PROPAGATORS') ?? ['tracecontext', 'baggage'])];
  if (names.includes('none')) return undefined;
  const known: Record<string, () => TextMapPropagator> = {
    tracecontext: () => new W3CTraceContextPropagator(),
    baggage: () => new W3CBaggagePropagator(),
  };
  const propagators = names.flatMap((name) => {
    if (known[name]) return [known[name]()];
    diag.warn(`OTEL_PROPAGATORS: "${name}" is not available in the service kit (tracecontext, baggage)`);
    return [];
  });
  return new CompositePropagator({ propagators });
}

/** The standard OTEL_TRACES_SAMPLER values, for when it names one (defaultSampler steps aside). */
function samplerFromEnv(): Sampler | undefined {
  const name = getStringFromEnv('OTEL_TRACES_SAMPLER');
  if (name === undefined) return undefined;
  const ratio = () => {
    const value = getNumberFromEnv('OTEL_TRACES_SAMPLER_ARG') ?? 1;
    return value >= 0 && value <= 1 ? value : 1;
  };
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio());
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio()) });
    default:
      throw new Error(
        `OTEL_TRACES_SAMPLER="${name}" is not a sampler the service kit knows (always_on, always_off, ` +
          'parentbased_always_on, parentbased_always_off, traceidratio, parentbased_traceidratio)',
      );
  }
}

function spanLimitsFromEnv() {
  const limits = {
    attributeCountLimit:
      getNumberFromEnv('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT') ?? getNumberFromEnv('OTEL_ATTRIBUTE_COUNT_LIMIT'),
    attributeValueLengthLimit:
      getNumberFromEnv('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT') ??
      getNumberFromEnv('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT'),
    eventCountLimit: getNumberFromEnv('OTEL_SPAN_EVENT_COUNT_LIMIT'),
    linkCountLimit: getNumberFromEnv('OTEL_SPAN_LINK_COUNT_LIMIT'),
  };
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
}

/**
 * OTEL_TRACES_EXPORTER (otlp by default, console, none) behind a batch processor sized by
 * OTEL_BSP_*. OTLP goes over HTTP as protobuf (the SDK's default), or JSON with
 * OTEL_EXPORTER_OTLP_PROTOCOL=http/json; the JSON exporter is loaded only then. gRPC is refused:
 * its exporter brings @grpc/grpc-js, and every collector here takes OTLP over HTTP.
 */
function spanProcessorsFromEnv(): SpanProcessor[] {
  const names = [...new Set(getStringListFromEnv('OTEL_TRACES_EXPORTER') ?? ['otlp'])];
  if (names.includes('none')) return [];
  return names.map((name) => {
    if (name === 'console') return new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() });
    if (name !== 'otlp')
      throw new Error(
        `OTEL_TRACES_EXPORTER="${name}" is not supported by the service kit (otlp, console, none)`,
      );
    return new BatchSpanProcessor({
      exporter: otlpExporter(),
      ...positive('maxQueueSize', 'OTEL_BSP_MAX_QUEUE_SIZE'),
      ...positive('scheduledDelayMillis', 'OTEL_BSP_SCHEDULE_DELAY'),
      ...positive('exportTimeoutMillis', 'OTEL_BSP_EXPORT_TIMEOUT'),
      ...positive('maxExportBatchSize', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    });
  });
}

function positive(option: string, variable: string): Record<string, number> {
  const value = getNumberFromEnv(variable);
  return value !== undefined && value > 0 ? { [option]: value } : {};
}

function otlpExporter(): SpanExporter {
  const protocol =
    (
      getStringFromEnv('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ??
      getStringFromEnv('OTEL_EXPORTER_OTLP_PROTOCOL')
    )?.trim() || 'http/protobuf';
  if (protocol === 'http/protobuf') return new OTLPTraceExporter();
  if (protocol === 'http/json') {
    const { OTLPTraceExporter: JsonExporter } = createRequire(import.meta.url)(
      '@opentelemetry/exporter-trace-otlp-http',
    ) as typeof import('@opentelemetry/exporter-trace-otlp-http');
    return new JsonExporter();
  }
  throw new Error(
    `OTEL_EXPORTER_OTLP_PROTOCOL="${protocol}" is not supported by the service kit: use http/protobuf (the default) or http/json`,
  );
}

/**
 * Services are ES modules: `import pg from 'pg'` never passes through `require`, so the
 * instrumentations only see it through a loader hook. import-in-the-middle's synchronous hooks
 * (`module.registerHooks`) run in the main thread; `module.register` ran them on a loader thread
 * of their own, a second V8 isolate that stayed for the life of the process (tens of MB of an
 * idle traced process, and a message round trip per module loaded). The hooks come from the
 * import-in-the-middle that @opentelemetry/instrumentation registers its patches with, so both
 * sides share one instance. They wrap only the modules an instrumentation patches (pg, ioredis,
 * kafkajs, http): by default import-in-the-middle wraps every ES module the process imports in a
 * generated module of its own, typebox's 746 and fastify's included.
 */
function registerModuleHooks(include: string[]): void {
  const fromInstrumentation = createRequire(
    createRequire(import.meta.url).resolve('@opentelemetry/instrumentation'),
  );
  const hooks = fromInstrumentation('import-in-the-middle/register-hooks.mjs') as {
    register(options: { include: string[] }): void;
    supportsSyncHooks(): boolean;
  };
  if (hooks.supportsSyncHooks()) hooks.register({ include });
  else register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include } });
}

export {
  shutdownTelemetry,
  telemetryConfigured,
  traceContextCarrier,
  withTraceContext,
} from './trace-context.ts';
