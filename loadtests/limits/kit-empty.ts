// What the service kit itself costs: a kit-built service (request ids, hooks, RED metrics,
// problem+json, draining, logger) answering exactly what bare-fastify.ts answers, with the same
// shape variables (BARE_STATUS, BARE_RESPONSE_BYTES) and no work behind it. Its requests per
// CPU-second over the bare handler's are the kit's efficiency (goal: >= 0.9).
import { createService } from '@sdlab/service-kit';
import type { FastifyReply } from 'fastify';
import Type from 'typebox';

const status = Number(process.env.BARE_STATUS ?? 200);
const responseBytes = Number(process.env.BARE_RESPONSE_BYTES ?? 11);
const body = JSON.stringify({ ok: true, pad: 'x'.repeat(Math.max(0, responseBytes - 20)) });

const service = await createService({
  name: 'kit-empty',
  config: Type.Object({}),
  // As `pnpm load` runs the services: warnings only. LOG_LEVEL=info measures the stack's setting.
  defaults: { HOST: '127.0.0.1', PORT: 0, LOG_LEVEL: 'warn', BODY_LIMIT_BYTES: 10 * 1024 * 1024 },
});
const answer = async (_request: unknown, reply: FastifyReply) => {
  if (status >= 300 && status < 400)
    return reply.code(status).header('location', 'https://example.com/bare').send();
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(body);
};
service.app.get('/bare', answer);
service.app.get('/bare/*', answer);
service.app.post('/bare', answer);
const address = await service.start();
process.stdout.write(`${JSON.stringify({ listening: address })}\n`);
