// CPU per lone check, without HTTP: RateLimiter.decide one check at a time against the native Redis
// (one check per Redis call, as k6's evenly spread arrivals make them), from a given checkout so two
// builds can alternate in one sitting. Pin it to one core as the service is pinned:
//   taskset -c 0 node --conditions=@sdlab/source loadtests/bench/limiter-lone-check.ts <checkout> [checks]
import { pathToFileURL } from 'node:url';

const dir = process.argv[2] ?? '.';
const n = Number(process.argv[3] ?? 20_000);
const from = (path: string) => import(pathToFileURL(`${dir}/${path}`).href);
const { RateLimiter, parseRules } = await from('libs/rate-limit/src/index.ts');
const { Redis } = await from('libs/rate-limit/node_modules/ioredis/built/index.js');
const { Registry } = await from('libs/rate-limit/node_modules/prom-client/index.js');

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const limiter = new RateLimiter({
  redis,
  rules: parseRules([{ name: 'free', algorithm: 'sliding-window-counter', limit: 100, windowMs: 60_000 }]),
  keys: `bench:lone:${process.pid}:`,
  registry: new Registry(),
});
const one = (i: number) =>
  new Promise<void>((resolve) => limiter.decide(`k${i % 5000}`, 'free', 1, () => resolve()));
for (let i = 0; i < 5000; i++) await one(i); // warm-up: the JIT, the script loaded on the connection
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < n; i++) await one(i);
const cpu = process.cpuUsage(cpu0);
const wall = performance.now() - t0;
const per = (us: number) => (us / n).toFixed(1);
process.stdout.write(
  `${dir} cpu ${per(cpu.user + cpu.system)} µs/check (user ${per(cpu.user)}, system ${per(cpu.system)}), wall ${per(wall * 1000)} µs/check\n`,
);
redis.disconnect();
