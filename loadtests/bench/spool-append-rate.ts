// The ingest spool's durable append at a fixed arrival rate, alone: what each click costs this
// process's CPU (all threads: the main thread, libuv's pool doing the write and the sync, V8's)
// when clicks arrive as a fixed-rate HTTP load brings them, a few per event-loop turn, each turn
// a wake-up of its own. A 1 ms interval appends the clicks due by then (RATE 1200/s: ~1.2 a turn)
// and does not wait for them, as the server does not; the same loop without appends (`none`) is
// the floor to subtract. WARM s unmeasured, then DUR s measured; prints µs of CPU a click, clicks
// per group commit, and the append's latency (p50, p99).
//   node --conditions=@sdlab/source loadtests/bench/spool-append-rate.ts [append|none]
// RATE (1200), DUR (10), WARM (3); spool options as the service's defaults (16 MiB segments).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpoolRecord } from '../../services/ad-click-aggregator/src/domain/click-event.ts';
import { Spool } from '../../services/ad-click-aggregator/src/domain/spool.ts';

const mode = process.argv[2] ?? 'append';
if (mode !== 'append' && mode !== 'none') throw new Error('usage: spool-append-rate.ts [append|none]');
const rate = Number(process.env.RATE ?? 1200);
const warm = Number(process.env.WARM ?? 3);
const dur = Number(process.env.DUR ?? 10);

// A record of the ingest's size (~3.2 KB a sync is a few of these with their trace context).
const record = (n: number): SpoolRecord => ({
  impressionId: `bench-ad-${n % 50}.bench.${n.toString(36)}.Qm9v4kT2aZ1cXq8w.2yPpQm9v4kT2aZ1cXq8w2yPp`,
  adId: `bench-ad-${n % 50}`,
  campaignId: 'bench',
  clickedAt: Date.now(),
  dedup: 'redis',
  trace: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
});

const dir = await mkdtemp(join(tmpdir(), 'spool-append-rate-'));
let records = 0;
let syncs = 0;
const spool = await Spool.open(dir, {
  segmentBytes: 16 * 1_048_576,
  maxBytes: 1 << 30,
  onSync: (_seconds, n) => {
    records += n;
    syncs++;
  },
});

async function phase(seconds: number, measure: boolean) {
  const latencies: number[] = [];
  const start = performance.now();
  let sent = 0;
  let done = 0;
  const cpu0 = process.cpuUsage();
  const r0 = records;
  const s0 = syncs;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = (performance.now() - start) / 1000;
      const due = Math.min(Math.floor(elapsed * rate), Math.floor(seconds * rate));
      for (; sent < due; sent++) {
        if (mode === 'none') {
          done++;
          continue;
        }
        const at = performance.now();
        spool.append(record(sent)).then(
          () => {
            latencies.push(performance.now() - at);
            done++;
          },
          (error: unknown) => {
            console.error(error);
            process.exit(1);
          },
        );
      }
      if (elapsed >= seconds && done === sent) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  const cpu = process.cpuUsage(cpu0);
  if (!measure) return;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => (latencies[Math.floor(p * (latencies.length - 1))] ?? 0).toFixed(2);
  console.log(
    `${mode} clicks=${done} us_per_click=${((cpu.user + cpu.system) / done).toFixed(1)} ` +
      `(user ${(cpu.user / done).toFixed(1)}, system ${(cpu.system / done).toFixed(1)}) ` +
      `clicks_per_sync=${syncs > s0 ? ((records - r0) / (syncs - s0)).toFixed(2) : '0'} ` +
      `p50_ms=${q(0.5)} p99_ms=${q(0.99)}`,
  );
}

try {
  await phase(warm, false);
  await phase(dur, true);
} finally {
  await spool.close();
  await rm(dir, { recursive: true, force: true });
}
