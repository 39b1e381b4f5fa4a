import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  constants,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpoolRecord } from './click-event.ts';
import { Spool, SpoolFullError, type SpoolPosition } from './spool.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'adclick-spool-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const record = (n: number): SpoolRecord => ({
  impressionId: `imp-${n}`,
  adId: 'ad',
  campaignId: 'c',
  clickedAt: Date.UTC(2026, 0, 1) + n,
  dedup: 'redis',
  trace: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
});
const options = { segmentBytes: 1024, maxBytes: 1 << 20 };
/** Where a descriptor of this process points ('' once it closed meanwhile). */
function readlinkSafe(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

describe('spool (the ingest write-ahead log)', () => {
  it('group-commits concurrent appends and reads them back in order across segments', async () => {
    const syncs: number[] = [];
    const spool = await Spool.open(tempDir(), { ...options, onSync: (_s, n) => syncs.push(n) });
    await Promise.all(Array.from({ length: 100 }, (_, i) => spool.append(record(i))));
    expect(syncs.reduce((a, b) => a + b, 0)).toBe(100);
    expect(syncs.length).toBeLessThan(100);
    const { records, next } = await spool.read(spool.checkpoint, 1000);
    expect(records.map((r) => r.impressionId)).toEqual(Array.from({ length: 100 }, (_, i) => `imp-${i}`));
    expect(records[0]!.trace?.traceparent).toMatch(/^00-a{32}/);
    await spool.commit(next);
    expect(spool.backlogBytes).toBe(0);
    await spool.close();
  });

  it('resumes after a restart from the last checkpoint, and deletes shipped segments', async () => {
    const dir = tempDir();
    const first = await Spool.open(dir, options);
    for (let i = 0; i < 40; i++) await first.append(record(i));
    const batch = await first.read(first.checkpoint, 15);
    await first.commit(batch.next);
    await first.close();

    const second = await Spool.open(dir, options);
    const rest = await second.read(second.checkpoint, 1000);
    expect(rest.records.map((r) => r.impressionId)).toEqual(
      Array.from({ length: 25 }, (_, i) => `imp-${i + 15}`),
    );
    await second.commit(rest.next);
    expect(readdirSync(dir).filter((f) => f.endsWith('.log'))).toHaveLength(1);
    await second.close();
  });

  it('skips a torn tail and a corrupted line left by a crash', async () => {
    const dir = tempDir();
    const spool = await Spool.open(dir, options);
    await spool.append(record(1));
    await spool.close();
    const segment = join(dir, readdirSync(dir).find((f) => f.endsWith('.log'))!);
    appendFileSync(segment, 'not json\n{"impressionId":"imp-torn","adId":');

    const corrupt: unknown[] = [];
    const reopened = await Spool.open(dir, { ...options, onCorrupt: (p) => corrupt.push(p) });
    await reopened.append(record(2));
    const { records } = await reopened.read(reopened.checkpoint, 100);
    expect(records.map((r) => r.impressionId)).toEqual(['imp-1', 'imp-2']);
    expect(corrupt).toHaveLength(2);
    await reopened.close();
  });

  it('reads the same records again from an older position (a retried send), and all of them after a restart', async () => {
    const dir = tempDir();
    const spool = await Spool.open(dir, options);
    const appended = Array.from({ length: 21 }, (_, i) => record(i));
    const ids = (rs: SpoolRecord[]) => rs.map((r) => r.impressionId);
    await Promise.all(appended.slice(0, 10).map((r) => spool.append(r)));
    const first = await spool.read(spool.checkpoint, 1000);
    expect(ids(first.records)).toEqual(ids(appended.slice(0, 10)));

    // Caught up, then more appends, across segments, in batches of a bounded size.
    for (const r of appended.slice(10, 20)) await spool.append(r);
    const second = await spool.read(first.next, 4);
    expect(second.records).toEqual(appended.slice(10, 14));
    const third = await spool.read(second.next, 1000);
    expect(third.records).toEqual(appended.slice(14, 20));

    // A retry from an older position reads the same records again, and the newer ones after them.
    await spool.append(appended[20]!);
    const again = await spool.read(first.next, 1000);
    expect(ids(again.records)).toEqual(ids(appended.slice(10, 21)));
    expect(await spool.read(again.next, 1000)).toEqual({ records: [], next: again.next });
    await spool.close();

    // After a restart everything unshipped is read back.
    const reopened = await Spool.open(dir, options);
    const all = await reopened.read(reopened.checkpoint, 1000);
    expect(ids(all.records)).toEqual(ids(appended.slice(0, 21)));
    await reopened.close();
  });

  it('zero-fills segments ahead, and finds where their data ends after a restart', async () => {
    const dir = tempDir();
    const spool = await Spool.open(dir, { ...options, segmentBytes: 8192 });
    for (let i = 0; i < 3; i++) await spool.append(record(i));
    const backlog = spool.backlogBytes;
    await spool.close();
    const segments = readdirSync(dir).filter((f) => f.endsWith('.log'));
    expect(segments.map((f) => statSync(join(dir, f)).size)).toEqual([8192]);

    const reopened = await Spool.open(dir, { ...options, segmentBytes: 8192 });
    expect(reopened.backlogBytes).toBe(backlog);
    const { records } = await reopened.read(reopened.checkpoint, 100);
    expect(records.map((r) => r.impressionId)).toEqual(['imp-0', 'imp-1', 'imp-2']);
    await reopened.close();
  });

  it('counts its backlog in bytes, not characters', async () => {
    const spool = await Spool.open(tempDir(), options);
    const wide = { ...record(1), campaignId: 'été-€' };
    const line = Buffer.byteLength(`${JSON.stringify(wide)}\n`);
    const appended = spool.append(wide);
    expect(spool.backlogBytes).toBe(line); // queued
    await appended;
    expect(spool.backlogBytes).toBe(line); // on disk
    const { next } = await spool.read(spool.checkpoint, 10);
    await spool.commit(next);
    expect(spool.backlogBytes).toBe(0);
    await spool.close();
  });

  it('refuses appends beyond its byte limit and a second writer on the same directory', async () => {
    const dir = tempDir();
    const spool = await Spool.open(dir, { ...options, maxBytes: 500 });
    await spool.append(record(1));
    await spool.append(record(2));
    await expect(spool.append(record(3))).rejects.toBeInstanceOf(SpoolFullError);
    await expect(Spool.open(dir, options)).rejects.toThrow(/already open/);
    await spool.close();
  });

  it('acknowledges an append only once its line is in the segment file, written for durability', async () => {
    const dir = tempDir();
    const spool = await Spool.open(dir, { ...options, segmentBytes: 4096 });
    const onDisk = () =>
      readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .map((f) => readFileSync(join(dir, f), 'utf8'))
        .join('');
    // Appends in waves over many event-loop turns, so groups of every size commit while others queue;
    // at each acknowledgement the record must already be in a file that another reader sees.
    const missing: string[] = [];
    const appends: Promise<void>[] = [];
    for (let wave = 0; wave < 20; wave++) {
      for (let i = 0; i < 1 + (wave % 7); i++) {
        const r = record(wave * 10 + i);
        appends.push(
          spool.append(r).then(() => {
            if (!onDisk().includes(`${JSON.stringify(r)}\n`)) missing.push(r.impressionId);
          }),
        );
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(appends);
    expect(missing).toEqual([]);
    expect(appends.length).toBe(77);

    // The file each acknowledgement rests on is open for synchronous data writes (O_DSYNC): a write
    // that returned is on stable storage, not only in the page cache. (Only segments holding data: a
    // spare may still be being zero-filled through a plain handle.)
    const segments = new Set(
      readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .map((f) => join(dir, f))
        .filter((path) => readFileSync(path).some((byte) => byte !== 0)),
    );
    const writers = readdirSync('/proc/self/fd')
      .filter((fd) => segments.has(readlinkSafe(`/proc/self/fd/${fd}`)))
      .map((fd) =>
        Number.parseInt(/^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8),
      )
      .filter((flags) => (flags & 3) !== constants.O_RDONLY);
    expect(writers.length).toBeGreaterThan(0);
    for (const flags of writers) expect(flags & constants.O_DSYNC).toBe(constants.O_DSYNC);
    await spool.close();
  });

  it('holds a small group for commitDelayMs, so that clicks arriving meanwhile share its write', async () => {
    const syncs: number[] = [];
    const spool = await Spool.open(tempDir(), {
      ...options,
      commitDelayMs: 1000,
      onSync: (_s, n) => syncs.push(n),
    });
    const first = spool.append(record(1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = spool.append(record(2));
    await Promise.all([first, second]);
    expect(syncs).toEqual([2]);
    // A group of eight or more does not wait (with a minute's delay this would time out).
    const slow = await Spool.open(tempDir(), { ...options, commitDelayMs: 60_000 });
    await Promise.all(Array.from({ length: 8 }, (_, i) => slow.append(record(i))));
    const { records } = await spool.read(spool.checkpoint, 10);
    expect(records.map((r) => r.impressionId)).toEqual(['imp-1', 'imp-2']);
    await Promise.all([spool.close(), slow.close()]);
  });

  describe('its checkpoint (what Kafka acknowledged, rewritten in place, not synced)', () => {
    const ids = (rs: SpoolRecord[]) => rs.map((r) => r.impressionId);
    const before = (a: SpoolPosition, b: SpoolPosition) =>
      a.segment < b.segment || (a.segment === b.segment && a.offset <= b.offset);
    /** 40 records over several segments, the first 15 shipped and checkpointed; the spool closed. */
    async function shippedFifteen(dir: string) {
      const spool = await Spool.open(dir, options);
      for (let i = 0; i < 40; i++) await spool.append(record(i));
      const { next } = await spool.read(spool.checkpoint, 15);
      await spool.commit(next);
      await spool.close();
      return next;
    }

    it('resumes after a crash between the last checkpoint written and what was acknowledged', async () => {
      const dir = tempDir();
      // One segment holds all 40 records, so that a lost checkpoint would resume before the written one.
      const oneSegment = { ...options, segmentBytes: 1 << 16 };
      // A separate process checkpoints two acknowledged batches and is killed (SIGKILL: no close,
      // the lock left behind, nothing flushed by the process).
      const spoolModule = new URL('./spool.ts', import.meta.url).href;
      const script = `
        import { Spool } from ${JSON.stringify(spoolModule)};
        const record = ${record.toString()};
        const spool = await Spool.open(${JSON.stringify(dir)}, ${JSON.stringify(oneSegment)});
        for (let i = 0; i < 40; i++) await spool.append(record(i));
        const first = await spool.read(spool.checkpoint, 10);
        await spool.commit(first.next);
        const second = await spool.read(first.next, 12);
        await spool.commit(second.next);
        process.stdout.write(JSON.stringify({ written: first.next, acknowledged: second.next }));
        process.kill(process.pid, 'SIGKILL');`;
      let output = '';
      try {
        execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      } catch (error) {
        expect((error as { signal?: string }).signal).toBe('SIGKILL');
        output = (error as { stdout: string }).stdout;
      }
      const { written, acknowledged } = JSON.parse(output) as Record<string, SpoolPosition>;
      expect(written!.offset).toBeGreaterThan(0);
      expect(acknowledged!.segment).toBe(written!.segment);

      const reopened = await Spool.open(dir, oneSegment);
      const resumed = reopened.checkpoint;
      expect(before(resumed, acknowledged!)).toBe(true);
      expect(before(written!, resumed)).toBe(true);
      // Nothing unacknowledged is skipped: the rest follows, possibly after some re-sent clicks.
      const { records } = await reopened.read(resumed, 1000);
      expect(ids(records).slice(-18)).toEqual(Array.from({ length: 18 }, (_, i) => `imp-${i + 22}`));
      await reopened.close();
    });

    it('falls back to the oldest segment on a torn or garbage checkpoint', async () => {
      const dir = tempDir();
      const shipped = await shippedFifteen(dir);
      const file = join(dir, 'checkpoint.json');
      const good = readFileSync(file, 'utf8');
      expect(good).toHaveLength(96);
      const oldest = Math.min(
        ...readdirSync(dir)
          .filter((f) => f.endsWith('.log'))
          .map((f) => Number.parseInt(f, 10)),
      );
      // A record whose offset reads later than what was acknowledged, its CRC that of the real one
      // (as a torn mix of two records could leave it); NULs (written back unfinished); nothing; junk.
      const later = good.replace(`"offset":${shipped.offset}`, `"offset":${shipped.offset + 1}`);
      expect(later).not.toBe(good);
      const broken = [later, '\0'.repeat(96), '', good.slice(0, 30), 'not json at all'];
      for (const content of broken) {
        writeFileSync(file, content);
        const reopened = await Spool.open(dir, options);
        expect(reopened.checkpoint).toEqual({ segment: oldest, offset: 0 });
        const { records } = await reopened.read(reopened.checkpoint, 1000);
        // From the oldest segment kept: re-sends some shipped clicks, then every unshipped one.
        expect(ids(records).slice(-25)).toEqual(Array.from({ length: 25 }, (_, i) => `imp-${i + 15}`));
        await reopened.close();
      }
    });

    it('reads the checkpoint.json of builds that wrote it by rename, and overwrites it in place', async () => {
      const dir = tempDir();
      const shipped = await shippedFifteen(dir);
      const file = join(dir, 'checkpoint.json');
      // What the previous build wrote: JSON.stringify(position) to checkpoint.json.tmp, renamed over.
      writeFileSync(file, JSON.stringify(shipped));
      writeFileSync(`${file}.tmp`, '{"segm');
      const upgraded = await Spool.open(dir, options);
      expect(upgraded.checkpoint).toEqual(shipped);
      const { records, next } = await upgraded.read(upgraded.checkpoint, 5);
      expect(ids(records)).toEqual(['imp-15', 'imp-16', 'imp-17', 'imp-18', 'imp-19']);
      await upgraded.commit(next);
      await upgraded.close();
      expect(readdirSync(dir)).not.toContain('checkpoint.json.tmp');
      expect(statSync(file).size).toBe(96);
      // The record stays JSON with the same two fields, as the previous build reads them.
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject(next);

      const again = await Spool.open(dir, options);
      expect(again.checkpoint).toEqual(next);
      await again.close();
    });
  });
});
