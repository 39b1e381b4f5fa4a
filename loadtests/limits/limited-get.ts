// A bare Fastify GET /bare behind a Redis rate limiter, to compare libs/rate-limit's plugin with
// the two common peers in one run: LIMITER=ours | fastify-rate-limit | rate-limiter-flexible.
// Each counts every request in a fixed window on the shared Redis (one key per client IP, a limit
// of 10,000,000 per minute so nothing is refused), then answers what bare-fastify.ts answers.
// Prints {"listening": ...} like the other fixtures.
import { randomBytes } from 'node:crypto';
import { parseRules, RateLimiter, rateLimitPlugin } from '@sdlab/rate-limit';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';

const LIMIT = 10_000_000;
const WINDOW_MS = 60_000;
const limiter = process.env.LIMITER ?? 'ours';
const prefix = `bench:${limiter}:${randomBytes(4).toString('hex')}:`;
const body = JSON.stringify({ ok: true, pad: '' });

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
});
const app = Fastify({ logger: false });
const answer = async (_request: unknown, reply: import('fastify').FastifyReply) =>
  reply.header('content-type', 'application/json; charset=utf-8').send(body);

if (limiter === 'ours') {
  const rules = parseRules([
    {
      name: 'bench',
      algorithm: 'fixed-window',
      limit: LIMIT,
      windowMs: WINDOW_MS,
      failurePolicy: 'fail-open',
    },
  ]);
  await app.register(rateLimitPlugin, { limiter: new RateLimiter({ redis, rules, keys: prefix }) });
  app.get('/bare', { config: { rateLimit: { rule: 'bench', key: (request) => request.ip } } }, answer);
} else if (limiter === 'fastify-rate-limit') {
  // Loaded by a computed name: its typings declare the same route option (`config.rateLimit`) as
  // ours, and one program cannot hold both declarations.
  const peer: string = '@fastify/rate-limit';
  const fastifyRateLimit = (await import(peer)).default;
  await app.register(fastifyRateLimit, {
    redis,
    nameSpace: prefix,
    max: LIMIT,
    timeWindow: WINDOW_MS,
    skipOnError: true,
  });
  app.get('/bare', answer);
} else if (limiter === 'rate-limiter-flexible') {
  const flexible = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: prefix,
    points: LIMIT,
    duration: WINDOW_MS / 1000,
    useRedisPackage: false,
  });
  app.addHook('onRequest', async (request, reply) => {
    try {
      await flexible.consume(request.ip);
    } catch {
      return reply.code(429).send();
    }
  });
  app.get('/bare', answer);
} else {
  throw new Error(`LIMITER must be ours, fastify-rate-limit or rate-limiter-flexible, not ${limiter}`);
}

const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(`${JSON.stringify({ listening: address })}\n`);
process.once('SIGTERM', () => {
  void app.close().then(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.unlink(...keys);
    redis.disconnect();
    process.exit(0);
  });
});
