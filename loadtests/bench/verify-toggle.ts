// What a piece of handler work costs a request inside a server, with the machine's load taken
// out: one bare Fastify process answers GET /bare/<signed impression id> with a 302 and flips the
// work it does before answering every PHASE_MS (200) between MODES (none,verify,spin), so a slow
// spell of the shared machine hits every kind alike. SIGUSR2 starts and stops the measured window;
// at the stop it writes OUT (JSON: per kind requests, CPU µs a request from process.cpuUsage, the
// call's own time when TIME=1, GC pauses) and OUT.phases (hrtime of every flip, for splitting a
// `perf record -k CLOCK_MONOTONIC` by kind). Driven by verify-toggle.sh.
//   verify: the ad-click ingest's verifyImpression; spin: SPIN rounds of integer arithmetic that
//   touch no memory (the same CPU time without the footprint).
import { writeFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { DEV_IMPRESSION_KEY } from '../../services/ad-click-aggregator/src/config.ts';
import { verifyImpression } from '../../services/ad-click-aggregator/src/domain/impression.ts';

const modes = (process.env.MODES ?? 'none,verify,spin').split(',');
const PHASE_MS = Number(process.env.PHASE_MS ?? 200);
const SPIN = Number(process.env.SPIN ?? 5000);
const TIME = process.env.TIME === '1';
const options = { now: Date.now(), maxAgeMs: 1e9, maxSkewMs: 1e6 };
let sink = 0;
const work: Record<string, (id: string) => void> = {
  none: () => {},
  verify: (id) => {
    if (!verifyImpression(DEV_IMPRESSION_KEY, id, options).ok)
      throw new Error('an id of the bench failed to verify');
  },
  spin: (id) => {
    let x = id.length;
    for (let i = 0; i < SPIN; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
    sink ^= x;
  },
};
for (const mode of modes) if (!work[mode]) throw new Error(`MODES: ${mode} is not none, verify or spin`);

const stats = modes.map((mode) => ({ mode, requests: 0, cpuUs: 0, callNs: 0, gcPauses: 0, gcMs: 0 }));
const phases: string[] = [];
let measuring = false;
let index = 0;
let current = work[modes[0]!]!;
let requests = 0;
let callNs = 0;
let cpuAt = process.cpuUsage();
new PerformanceObserver((list) => {
  if (!measuring) return;
  for (const entry of list.getEntries()) {
    stats[index]!.gcPauses++;
    stats[index]!.gcMs += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });
setInterval(() => {
  const cpu = process.cpuUsage(cpuAt);
  if (measuring) {
    const s = stats[index]!;
    s.requests += requests;
    s.cpuUs += cpu.user + cpu.system;
    s.callNs += callNs;
  }
  cpuAt = process.cpuUsage();
  requests = 0;
  callNs = 0;
  index = (index + 1) % modes.length;
  current = work[modes[index]!]!;
  if (measuring) phases.push(`${process.hrtime.bigint()} ${modes[index]}`);
}, PHASE_MS).unref();

const app = Fastify({ logger: false });
const answer = async (request: FastifyRequest, reply: FastifyReply) => {
  const id = (request.params as Record<string, string | undefined>)['*'];
  if (id) {
    if (TIME) {
      const start = process.hrtime.bigint();
      current(id);
      callNs += Number(process.hrtime.bigint() - start);
    } else current(id);
    requests++;
  }
  return reply.code(302).header('location', 'https://example.com/bare').send();
};
app.get('/bare', answer);
app.get('/bare/*', answer);
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.on('SIGUSR2', () => {
  measuring = !measuring;
  phases.push(`${process.hrtime.bigint()} ${measuring ? modes[index] : 'end'}`);
  if (measuring || !process.env.OUT) return;
  const report = stats.map((s) => ({
    mode: s.mode,
    requests: s.requests,
    usPerRequest: s.cpuUs / s.requests,
    callUs: s.callNs / s.requests / 1000,
    gcUsPerRequest: (s.gcMs * 1000) / s.requests,
  }));
  writeFileSync(process.env.OUT, `${JSON.stringify(report)}\n`);
  writeFileSync(`${process.env.OUT}.phases`, `${phases.join('\n')}\n`);
});
process.once('SIGTERM', () => void app.close().then(() => process.exit(sink === 0.5 ? 1 : 0)));
process.stdout.write('listening\n');
