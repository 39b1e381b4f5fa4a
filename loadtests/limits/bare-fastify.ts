// The limit a service's HTTP path is measured against: the same framework answering a request
// of the same shape with no work behind it. Started by the runner beside the service, on the
// same cores. The shape comes from the environment, so the bare answer costs what the service's
// answer costs to frame and send: BARE_STATUS (200, 201, 302 ...) and BARE_RESPONSE_BYTES (a JSON
// body of about that size; a 302 carries a Location header and no body). A POST's JSON body is
// parsed, as the service's is.
import Fastify from 'fastify';

const status = Number(process.env.BARE_STATUS ?? 200);
const responseBytes = Number(process.env.BARE_RESPONSE_BYTES ?? 11);
/** `{"ok":true,"pad":"xxx..."}` of about responseBytes bytes, built once. */
const body = JSON.stringify({ ok: true, pad: 'x'.repeat(Math.max(0, responseBytes - 20)) });

// BARE_LOGGER=<pino level> gives it a logger, as every kit service has: Fastify then makes a child
// logger and response listeners for every request (what that costs, libs/service-kit/README.md).
const app = Fastify({
  logger: process.env.BARE_LOGGER ? { level: process.env.BARE_LOGGER } : false,
  bodyLimit: 10 * 1024 * 1024,
});
const answer = async (_request: unknown, reply: import('fastify').FastifyReply) => {
  if (status >= 300 && status < 400)
    return reply.code(status).header('location', 'https://example.com/bare').send();
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(body);
};
app.get('/bare', answer);
app.get('/bare/*', answer);
app.post('/bare', answer);
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(`${JSON.stringify({ listening: address })}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
