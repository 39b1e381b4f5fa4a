import { readFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { basename, join } from 'node:path';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ParentBasedSampler, type Sampler, type SpanProcessor } from '@opentelemetry/sdk-trace';
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
 * The standard OTEL_TRACES_SAMPLER, when set, wins (the SDK reads it). Otherwise: follow the
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

/**
 * Starts the OpenTelemetry SDK. It must run before fastify, pg, ioredis and kafkajs are loaded,
 * which is why services start through `--import @sdlab/service-kit/instrument`.
 * Metrics stay with prom-client (/metrics), so the SDK's own metric and log exporters are off.
 */
export function startTelemetry(options: TelemetryOptions = {}): NodeSDK {
  registerModuleHooks();
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  const sampler = defaultSampler();
  const sdk = new NodeSDK({
    ...(options.serviceName ? { serviceName: options.serviceName } : {}),
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    ...(sampler ? { sampler } : {}),
    // One server span per request, made by the kit (server-span.ts) and only for a request that
    // is sampled, plus one per call to a dependency. The http instrumentation traces outgoing calls
    // only: on incoming ones it computed attributes, made a span and patched the request's and
    // response's emitters for every request, sampled or not (a quarter of the CPU of a check with
    // 10 traces/s sampled). @fastify/otel is not here either: a span per hook and handler.
    instrumentations: [
      new HttpInstrumentation({ disableIncomingRequestInstrumentation: true }),
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
      new KafkaJsInstrumentation(),
    ],
  });
  sdk.start();
  (globalThis as Record<symbol, unknown>)[SDK_KEY] = sdk;
  return sdk;
}

/**
 * Services are ES modules: `import pg from 'pg'` never passes through `require`, so the
 * instrumentations only see it through a loader hook. import-in-the-middle's synchronous hooks
 * (`module.registerHooks`) run in the main thread; `module.register` ran them on a loader thread
 * of their own, a second V8 isolate that stayed for the life of the process (tens of MB of an
 * idle traced process, and a message round trip per module loaded). The hooks come from the
 * import-in-the-middle that @opentelemetry/instrumentation registers its patches with, so both
 * sides share one instance.
 */
function registerModuleHooks(): void {
  const fromInstrumentation = createRequire(
    createRequire(import.meta.url).resolve('@opentelemetry/instrumentation'),
  );
  const hooks = fromInstrumentation('import-in-the-middle/register-hooks.mjs') as {
    register(): void;
    supportsSyncHooks(): boolean;
  };
  if (hooks.supportsSyncHooks()) hooks.register();
  else register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
}

export {
  shutdownTelemetry,
  telemetryConfigured,
  traceContextCarrier,
  withTraceContext,
} from './trace-context.ts';
