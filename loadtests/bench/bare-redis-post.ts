// The floor of any Redis-backed decision at one request per event-loop turn: bare-fastify.ts's
// POST JSON handler (same shape, 110-byte answer) that makes exactly one ioredis round trip before
// it answers, an EVALSHA of a trivial script sent as the limiter sends its batch script (a plain
// Command through sendCommand, on a client with enableAutoPipelining, as the rate-limiter's
// adapter configures it). The script reads nothing and returns four integers, as a decision does;
// it gets the request's key as KEYS[1] and the limiter's argument count, so the command's bytes are
// about a check's. Prints {"listening": ...} like the other fixtures.
import { createHash } from 'node:crypto';
import Fastify from 'fastify';
import { Command, Redis } from 'ioredis';

const LUA = 'return {1, 99, 60000, 0}';
const SHA = createHash('sha1').update(LUA).digest('hex');
const body = JSON.stringify({ ok: true, pad: 'x'.repeat(90) });

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  enableAutoPipelining: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  lazyConnect: true,
});
await redis.connect();
await redis.script('LOAD', LUA);

const app = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024 });
app.post('/bare', (request, reply) => {
  const { key } = request.body as { key: string };
  // EVALSHA sha 1 key batchId rules algorithm limit window count rule cost: the batch's shape.
  const command = new Command('evalsha', [SHA, 1, key, '-', 1, 2, 100, 60000, 1, 1, 1]);
  (redis.sendCommand(command) as Promise<number[]>).then(
    () => reply.code(200).header('content-type', 'application/json; charset=utf-8').send(body),
    (error: unknown) => reply.send(error as Error),
  );
});
app.get('/bare', async () => ({ ok: true }));

const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(`${JSON.stringify({ listening: address })}\n`);
process.once('SIGTERM', () => {
  void app.close().then(() => {
    redis.disconnect();
    process.exit(0);
  });
});
