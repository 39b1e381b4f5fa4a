// Bare Fastify plus the parts of the kit named in the environment, answering GET /bare as
// loadtests/limits/kit-empty.ts does: what each part costs a request, measured side by side
// (loadtests/bench/side-by-side.sh "libs/service-kit|bench/kit-parts.ts|LOGGER=1 LAZY=1" ...).
//   LOGGER=1    a pino logger at warn (Fastify then makes a child logger and response listeners per request)
//   LAZY=1      with the kit's lazy request logger (request-logger.ts) and Fastify's request lines off
//   ONRESP=1    an empty onResponse hook (response listeners without a logger)
//   METRICS=1   prom-client's default metrics, as createMetricsRegistry sets them up
//   GC=1        only a PerformanceObserver of GC entries (prom-client's nodejs_gc_duration_seconds uses one)
//   ELD=1       only an event-loop delay monitor at 100 ms (prom-client's nodejs_eventloop_lag_*)
//   SWAGGER=1   @fastify/swagger and @fastify/swagger-ui at /docs
//   MODULES=1   the kit's module graph loaded, unused
import Fastify, { type FastifyReply, LogController } from 'fastify';
import { requestLogger } from '../src/request-logger.ts';

const on = (name: string) => process.env[name] === '1';
const body = JSON.stringify({ ok: true, pad: '' });

const app = Fastify({
  logger: on('LOGGER') ? { level: 'warn' } : false,
  ...(on('LAZY')
    ? { childLoggerFactory: requestLogger, logController: new LogController({ disableRequestLogging: true }) }
    : {}),
});
if (on('ONRESP')) app.addHook('onResponse', (_request, _reply, done) => done());
if (on('METRICS')) {
  const { createMetricsRegistry } = await import('../src/metrics.ts');
  createMetricsRegistry('kit-parts');
}
if (on('GC')) {
  const { PerformanceObserver } = await import('node:perf_hooks');
  new PerformanceObserver(() => {}).observe({ entryTypes: ['gc'] });
}
if (on('ELD')) (await import('node:perf_hooks')).monitorEventLoopDelay({ resolution: 100 }).enable();
if (on('SWAGGER')) {
  await app.register((await import('@fastify/swagger')).default, {
    openapi: { info: { title: 'kit-parts', version: '1' } },
  });
  await app.register((await import('@fastify/swagger-ui')).default, { routePrefix: '/docs' });
}
if (on('MODULES')) await import('../src/index.ts');
app.get('/bare', async (_request, reply: FastifyReply) =>
  reply.code(200).header('content-type', 'application/json; charset=utf-8').send(body),
);
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
