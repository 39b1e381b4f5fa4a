// The limit a service's HTTP path is measured against: the same framework answering a small
// JSON body with no work behind it. Started by the runner beside the service, on the same machine.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/bare', async () => ({ ok: true }));
app.post('/bare', async () => ({ ok: true }));
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(`${JSON.stringify({ listening: address })}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
