// `pnpm load:limiter-batch-redis [--lib DIR] [--redis URL] [--batch 100] [--concurrency 16] [--calls 10000]`
// Redis's work per batched decision, without HTTP: `concurrency` loops each keep one
// `RateLimiter.checkMany` of `batch` checks in flight (the closed loop's workload: Zipf-skewed keys
// over 100,000, rule `free`, a sliding-window counter of 100 a minute), against the limiter in
// `lib` (default: this checkout's libs/rate-limit/src; for another commit, `git archive <commit>
// libs/rate-limit/src` unpacked under libs/rate-limit/, so its imports resolve), so two commits
// can be compared in one sitting, alternating.
// The calls are the same in every run (a seeded generator, fresh keys per run): two runs then
// make the same decisions, admissions and denials alike, and their Redis CPU compares directly.
// Reports decisions/s, Redis's CPU per decision (from /proc) and what INFO commandstats says per
// decision: the script's usec and the commands it ran. Use a Redis of its own (a second
// `redis-server --port 6395 --save ''`): commandstats are reset at the start and are server-wide.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';

const { values } = parseArgs({
  options: {
    lib: { type: 'string', default: resolve(import.meta.dirname, '../../libs/rate-limit/src') },
    redis: { type: 'string', default: 'redis://127.0.0.1:6395' },
    batch: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '16' },
    calls: { type: 'string', default: '10000' },
  },
});
const size = Number(values.batch);
const concurrency = Number(values.concurrency);
const totalCalls = Number(values.calls);
const KEY_SPACE = 100_000;
const POOL = 64;

const lib = (await import(
  resolve(values.lib, 'index.ts')
)) as typeof import('../../libs/rate-limit/src/index.ts');
const rules = lib.parseRules([
  { name: 'free', algorithm: 'sliding-window-counter', limit: 100, windowMs: 60_000 },
]);
const redis = new Redis(values.redis);
const admin = new Redis(values.redis);
const limiter = new lib.RateLimiter({ redis, rules, keys: 'bench:rl:' });
const run = Date.now().toString(36);
let seed = 17;
/** mulberry32: the same sequence in every run. */
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pool = Array.from({ length: POOL }, () =>
  Array.from({ length: size }, () => ({
    key: `cl-${run}-${Math.floor(random() ** 3 * KEY_SPACE)}`,
    rule: 'free',
    cost: 1,
  })),
);

const redisPid = Number(/process_id:(\d+)/.exec(await admin.info('server'))![1]);
const ticks = () => {
  const stat = readFileSync(`/proc/${redisPid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // ms at CLK_TCK 100
};

let left = 0;
let decisions = 0;
let allowed = 0;
let notRedis = 0;
let next = 0;
const loop = async () => {
  while (left-- > 0) {
    const results = await limiter.checkMany(pool[next++ % POOL]!);
    decisions += results.length;
    for (const r of results) {
      if (r.source !== 'redis') notRedis++;
      if (r.allowed) allowed++;
    }
  }
};

// Warm-up on keys of its own: JIT, the script cache.
const measured = pool.splice(
  0,
  POOL,
  ...pool.map((checks) => checks.map((c) => ({ ...c, key: `w${c.key}` }))),
);
left = 1000;
await Promise.all(Array.from({ length: concurrency }, loop));
pool.splice(0, POOL, ...measured);
next = 0;
decisions = 0;
allowed = 0;
await admin.config('RESETSTAT');
const cpuBefore = ticks();
const started = performance.now();
left = totalCalls;
await Promise.all(Array.from({ length: concurrency }, loop));
const wall = (performance.now() - started) / 1000;
const redisMs = ticks() - cpuBefore;
const stats = await admin.info('commandstats');
const perDecision: string[] = [];
let scriptUsec = 0;
for (const [, name, calls, usec] of stats.matchAll(/cmdstat_([a-z|]+):calls=(\d+),usec=(\d+)/g)) {
  if (name === 'evalsha' || name === 'eval') scriptUsec += Number(usec);
  if (name === 'config' || name === 'info') continue;
  perDecision.push(`${name} ${(Number(calls) / decisions).toFixed(3)}`);
}
process.stdout.write(
  [
    `${values.lib}: ${Math.round(decisions / wall).toLocaleString('en-US')} decisions/s (${allowed} admitted, ${notRedis} not from Redis), batch ${size} x ${concurrency}, ${wall.toFixed(1)} s`,
    `  Redis: ${(redisMs / wall / 1000).toFixed(2)} cores, ${((redisMs * 1000) / decisions).toFixed(2)} µs CPU per decision, script ${(scriptUsec / decisions).toFixed(2)} µs per decision (commandstats)`,
    `  commands per decision: ${perDecision.join(', ')}`,
    '',
  ].join('\n'),
);
await limiter.close();
redis.disconnect();
admin.disconnect();
