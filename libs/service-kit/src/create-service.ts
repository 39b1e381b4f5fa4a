import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import closeWithGrace from 'close-with-grace';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  LogController,
  type RawServerDefault,
} from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';
import type { Static, TObject, TProperties } from 'typebox';
import {
  applyRenamedVariables,
  type BaseConfig,
  ConfigError,
  loadConfig,
  mergeConfigSchema,
  type RenamedVariable,
} from './config.ts';
import { registerDraining } from './draining.ts';
import { registerHealthRoutes } from './health-routes.ts';
import { clientErrorHandler, frameworkErrors, registerNulBodyGuard } from './hostile-input.ts';
import { loggerOptions } from './logger.ts';
import { createMetricsRegistry, registerHttpMetrics } from './metrics.ts';
import { registerProblemDetails } from './problem-details.ts';
import { Readiness } from './readiness.ts';
import { requestLogger } from './request-logger.ts';
import { RequestOutcomes } from './request-outcomes.ts';
import { Resources } from './resources.ts';
import { modeDefaults, productionProblems, type RunMode, runMode } from './run-mode.ts';
import { registerServerSpans } from './server-span.ts';
import { shutdownTelemetry } from './trace-context.ts';

export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** What the kit hangs on every instance: adapters and routes reach it as `app.kit`. */
export interface Kit {
  name: string;
  /** `production` refuses committed secrets and development-only switches at start-up. */
  mode: RunMode;
  readiness: Readiness;
  metrics: Registry;
  resources: Resources;
}

declare module 'fastify' {
  interface FastifyInstance {
    kit: Kit;
  }
}

/** What the kit's adapter helpers (Postgres, Redis) take from an app; a kit-built app is one. */
export interface KitHost {
  kit: Pick<Kit, 'name' | 'readiness' | 'resources'>;
  log: Pick<FastifyBaseLogger, 'debug' | 'info' | 'warn' | 'error'>;
}

export interface ServiceOptions<P extends TProperties> {
  /** Service name: logs, metrics' `service` label, OTel service name, OpenAPI title. */
  name: string;
  description?: string;
  version?: string;
  /** The service's own settings; merged with the kit's (HOST, PORT, LOG_LEVEL, ...). */
  config: TObject<P>;
  /** Defaults that differ per service, e.g. its port. */
  defaults?: Partial<Static<TObject<P>> & BaseConfig>;
  env?: NodeJS.ProcessEnv;
  /** Workers leave out OpenAPI and serve only health and metrics. */
  kind?: 'service' | 'worker';
  /**
   * Signals that must not shut the service down because it handles them itself, e.g. SIGHUP
   * for a configuration reload. SIGTERM and SIGINT always drain and exit.
   */
  keepRunningOn?: NodeJS.Signals[];
  /**
   * Settings whose committed default must never run in production (JWT keys, webhook secrets,
   * admin tokens): with NODE_ENV=production the service exits 1 naming each one still at its default.
   */
  secrets?: readonly (keyof P & string)[];
  /**
   * Boolean switches of development-only endpoints (e.g. a token minter): on by default in
   * development, off by default in production, and a production start with one on exits 1.
   */
  devOnly?: readonly (keyof P & string)[];
  /** Variables renamed in this release: read under the new name, with a warning in the log. */
  renamedConfig?: readonly RenamedVariable[];
}

export interface Service<P extends TProperties> {
  app: App;
  config: Static<TObject<P>> & BaseConfig;
  kit: Kit;
  /**
   * The admin listener (ADMIN_PORT): /metrics, /docs and the probes, kept off the public port.
   * Undefined when ADMIN_PORT is unset (development), where those routes share the public port.
   */
  admin: FastifyInstance | undefined;
  /** Listens (and the admin listener), installs the SIGTERM/SIGINT handlers, returns the address. */
  start(): Promise<string>;
}

/** A Fastify 5 app with config, logs, health, metrics, tracing names, problem+json and OpenAPI. */
export async function createService<P extends TProperties>(options: ServiceOptions<P>): Promise<Service<P>> {
  const { env, warnings } = applyRenamedVariables(options.env ?? process.env, options.renamedConfig ?? []);
  const schema = mergeConfigSchema(options.config);
  const mode = runMode(env);
  const guard = { secrets: options.secrets, devOnly: options.devOnly };
  const config = loadConfig(options.name, schema, env, {
    ...options.defaults,
    ...modeDefaults(mode, guard),
  }) as Static<TObject<P>> & BaseConfig;
  const unsafe = productionProblems(mode, schema, config, guard);
  if (mode === 'production' && config.ADMIN_PORT === undefined) {
    unsafe.push(
      'ADMIN_PORT is not set: /metrics and /docs would be served on the public port; set ADMIN_PORT (and ADMIN_HOST) in production',
    );
  }
  if (unsafe.length) throw new ConfigError(options.name, unsafe);
  process.env.OTEL_SERVICE_NAME ??= options.name;

  const outcomes = new RequestOutcomes();
  const app = Fastify({
    logger: loggerOptions(options.name, config.LOG_LEVEL),
    bodyLimit: config.BODY_LIMIT_BYTES,
    genReqId: requestId,
    // Fastify's two lines per request are off; the kit counts each request and logs it at debug.
    logController: outcomes,
    childLoggerFactory: requestLogger,
    // Unknown fields are refused (400 naming the field) rather than silently dropped.
    ajv: { customOptions: { allErrors: true, removeAdditional: false } },
    frameworkErrors,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();
  for (const warning of warnings) app.log.warn(warning);

  const kit: Kit = {
    name: options.name,
    mode,
    readiness: new Readiness(),
    metrics: createMetricsRegistry(options.name),
    resources: new Resources(),
  };
  app.decorate('kit', kit);
  app.addHook('onClose', async (instance) => kit.resources.closeAll(instance.log));
  // The kit's per-request work (request id, draining, the URL guard, metrics) runs in the log
  // controller's two calls, not in hooks (RequestOutcomes).
  outcomes.noteResponsesWith(registerDraining(app));

  registerProblemDetails(app);
  registerNulBodyGuard(app);
  // With ADMIN_PORT set, /metrics and /docs live on a second listener (bind it to a private
  // address); the public port keeps only the API and the probes.
  const admin = config.ADMIN_PORT === undefined ? undefined : createAdminApp(options.name, config.LOG_LEVEL);
  const internal = admin ?? app;
  if ((options.kind ?? 'service') === 'service') {
    await app.register(swagger, {
      openapi: {
        info: {
          title: options.name,
          description: options.description ?? '',
          version: options.version ?? '0.1.0',
        },
        components: {
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        },
      },
    });
    if (admin) await admin.register(specificationOf(app));
    await internal.register(swaggerUi, { routePrefix: '/docs' });
  }
  registerHealthRoutes(app, kit.readiness);
  registerHttpMetrics(outcomes, kit.metrics, internal);
  if (admin) {
    registerHealthRoutes(admin, kit.readiness);
    registerProblemDetails(admin);
    app.addHook('onClose', async () => admin.close());
  }
  if (app.log.level === 'debug' || app.log.level === 'trace') outcomes.logAccess();
  registerServerSpans(app);

  return {
    app,
    config,
    kit,
    admin,
    async start() {
      installShutdown(app, config.SHUTDOWN_TIMEOUT_MS, options.keepRunningOn ?? []);
      if (admin) await admin.listen({ host: config.ADMIN_HOST, port: config.ADMIN_PORT });
      return app.listen({ host: config.HOST, port: config.PORT });
    },
  };
}

/**
 * Runs `main`, turning a configuration error into a clear message and exit code 1 instead of a
 * stack trace. Use it as a service's last line: `runService(main)`.
 */
export function runService(main: () => Promise<unknown>): void {
  main().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
    } else {
      process.stderr.write(
        `failed to start: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`,
      );
    }
    process.exit(1);
  });
}

/**
 * A service's or worker's last line: `runIfMain(import.meta, buildApp)`. Run as the process's
 * entry point, the module builds and starts the service through runService; imported (by a test,
 * by another entry) it does nothing. `started` runs once the service listens.
 */
export function runIfMain<S extends { start(): Promise<unknown> }>(
  meta: ImportMeta,
  build: () => Promise<S>,
  started?: (service: S) => void,
): void {
  if (!meta.main) return;
  runService(async () => {
    const service = await build();
    await service.start();
    started?.(service);
  });
}

function installShutdown(app: App, timeoutMs: number, keepRunningOn: NodeJS.Signals[]): void {
  // close-with-grace types only the signals it listens for; any other one needs no skipping.
  const skip = keepRunningOn.filter((signal) => signal !== 'SIGTERM' && signal !== 'SIGINT') as 'SIGHUP'[];
  closeWithGrace({ delay: timeoutMs, logger: false, skip }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an unhandled error');
    else app.log.info({ signal, timeoutMs }, 'shutting down: draining in-flight requests');
    await app.close();
    await shutdownTelemetry();
    app.log.info('shutdown complete');
    if (err) throw err;
  });
}

/** Stands in for @fastify/swagger on the admin listener: the UI there shows the public app's document. */
function specificationOf(app: App) {
  return fp(
    async (admin: FastifyInstance) => {
      admin.decorate('swagger', ((opts?: { yaml?: boolean }) => app.swagger(opts as never)) as never);
    },
    { name: '@fastify/swagger' },
  );
}

function createAdminApp(name: string, level: BaseConfig['LOG_LEVEL']): FastifyInstance {
  return Fastify({
    logger: loggerOptions(`${name}-admin`, level),
    logController: new LogController({ disableRequestLogging: true }),
  });
}

const REQUEST_ID = /^[\w.:-]{1,64}$/;
/**
 * Made ids are UUID-shaped: 72 random bits per process, then a counter. randomUUID() per request
 * was 0.4 µs of the kit's empty route in a CPU profile; a request id has to be unique, not secret.
 */
const ID_PREFIX = randomUUID().slice(0, 24);
let lastId = 0;

/** Keeps a caller's request id when it is sane (bounded, no control characters), otherwise makes one. */
function requestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  if (typeof given === 'string' && REQUEST_ID.test(given)) return given;
  lastId = lastId >= 0xffff_ffff_ffff ? 1 : lastId + 1;
  return ID_PREFIX + lastId.toString(16).padStart(12, '0');
}
