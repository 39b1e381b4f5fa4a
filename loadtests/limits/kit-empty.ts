// What the service kit itself costs: a kit-built service (request ids, hooks, RED metrics,
// problem+json, draining, logger) answering the same small JSON body as bare-fastify.ts with no
// work behind it. Its throughput per core over the bare handler's is the kit's efficiency.
import { createService } from '@sdlab/service-kit';
import Type from 'typebox';

const service = await createService({
  name: 'kit-empty',
  config: Type.Object({}),
  // As `pnpm load` runs the services: warnings only. LOG_LEVEL=info measures the stack's setting.
  defaults: { HOST: '127.0.0.1', PORT: 0, LOG_LEVEL: 'warn' },
});
service.app.get('/bare', async () => ({ ok: true }));
service.app.post('/bare', async () => ({ ok: true }));
const address = await service.start();
process.stdout.write(`${JSON.stringify({ listening: address })}\n`);
