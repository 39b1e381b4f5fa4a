import type { FastifyInstance } from 'fastify';
import { PROBLEM_CONTENT_TYPE } from './problem-details.ts';
import type { Readiness } from './readiness.ts';

/**
 * /healthz: the process is alive (no dependency is consulted, so a dead database never gets a
 * healthy process restarted). /readyz: every registered dependency answered; 503 names the ones
 * that did not, so a load balancer stops sending traffic and an operator sees why.
 */
export function registerHealthRoutes(app: FastifyInstance, readiness: Readiness): void {
  const hidden = { hide: true, tags: ['health'] };
  app.get('/healthz', { schema: hidden, config: { otel: false } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: hidden, config: { otel: false } }, async (_request, reply) => {
    const checks = await readiness.run();
    const failed = checks.filter((c) => !c.ok);
    if (failed.length === 0) return { status: 'ready', checks };
    return reply
      .code(503)
      .type(PROBLEM_CONTENT_TYPE)
      .send({
        type: 'urn:sdlab:problem:not-ready',
        title: 'Service not ready',
        status: 503,
        detail: `not ready: ${failed.map((c) => `${c.name} (${c.error})`).join(', ')}`,
        code: 'SDLAB_KIT_NOT_READY',
        checks,
      });
  });
}
