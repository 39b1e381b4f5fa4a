import { constants, existsSync, readFileSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { asClick, type SpoolRecord } from './click-event.ts';

// The ingest's write-ahead log. A click is appended here and made durable (a synchronous-data write)
// before its redirect is sent; a background shipper produces the log to Kafka and checkpoints
// what Kafka acknowledged. So Kafka being slow or down never delays or loses a redirect's click:
// it only grows the backlog, which drains in order when Kafka is back.
//
// Layout: numbered segment files of JSON lines (`000000000042.log`), a checkpoint
// (`checkpoint.json`: the first byte not yet acknowledged) and a lock file. Appends are group
// committed: every click that arrives while one write runs shares the next one, so the cost
// per click falls as the rate rises (measured here: ~0.3 ms p50, ~2 ms p95 per durable write).
// At low rates a group of fewer than eight waits up to `commitDelayMs` (1 ms in the service) for
// more before its write, as Postgres's commit_delay does: the durable write's kernel cost is per write.
//
// The active segment is open with O_DSYNC: a write returns once its data is on stable storage, as
// write + fdatasync would leave it, in one trip to libuv's thread pool instead of two (at ~1,200
// clicks/s a group is one or two clicks, and each trip is a futex hand-off and an event-loop
// wake-up: README, "The spool's sync at the runner's rate").
//
// Segments are zero-filled ahead (as Postgres does with its WAL) and written in place: a durable
// write then writes the data blocks without a journal commit for a new file size (measured here:
// ~100 µs of kernel work per sync against ~165 appending). The data of a segment ends at its last non-zero
// byte; a spare is filled while the active segment passes half its size, so a rotation does not wait.
// The first segment is filled in open, before the ingest is ready: 13-25 ms for 16 MiB here against
// 2-3 ms unfilled, within the noise of a 1.5-2.1 s start (loadtests/bench/adclick-startup.ts).
//
// Each open starts a new segment, so a torn tail left by a crash (a line without its newline, never
// acknowledged to a client) stays at the end of an old segment, where the reader skips it.
// The checkpoint is written after Kafka acknowledges and is not fsynced: losing it re-sends a few
// batches, and the aggregator's raw-click key makes a re-sent click count once. It is one fixed-size
// record (CHECKPOINT_BYTES of space-padded JSON with a CRC-32 of its position) overwritten in place
// through a handle kept open: one `pwrite` a shipped batch, where a new file and a rename cost
// ~10 times the CPU (README, "The checkpoint, written in place"). A record whose CRC does not match
// (a torn write) counts as no checkpoint: the shipper starts from the oldest segment and re-sends.
// The record is still JSON with `segment` and `offset`, so the rename-era `checkpoint.json` is read
// as it is, and an older build reads the new record.
// The shipper always reads the file: handing it the group commit's records from memory (6e894da)
// showed no gain above the noise in per-core closed loops (5 alternating pairs) and was removed.

const SEGMENT = /^(\d{12})\.log$/;
const CHECKPOINT = 'checkpoint.json';
/**
 * The checkpoint record's size: its JSON is at most 71 bytes (two safe integers and a CRC-32), padded
 * with spaces and ended by a newline, so every write covers the whole previous record (the rename-era
 * file included) and fits in one disk sector.
 */
const CHECKPOINT_BYTES = 96;
const LOCK = 'LOCK';
const READ_CHUNK = 1 << 20;
/** A group this large already spreads its write's cost; it does not wait for more. */
const COMMIT_DELAY_BELOW = 8;

export interface SpoolPosition {
  segment: number;
  offset: number;
}

export interface SpoolOptions {
  segmentBytes: number;
  maxBytes: number;
  /**
   * A group smaller than COMMIT_DELAY_BELOW waits up to this long for more clicks before its write (as
   * Postgres's commit_delay): at ~1,200 clicks/s a group is otherwise one click and every click pays a
   * durable write of its own (~100 µs of this machine's CPU). 0: no wait.
   */
  commitDelayMs?: number;
  /** Called after each group commit with its duration (seconds) and size (records). */
  onSync?: (seconds: number, records: number) => void;
  /** Called for a line that does not parse (a torn or corrupted write); it is skipped. */
  onCorrupt?: (position: SpoolPosition) => void;
}

export class SpoolFullError extends Error {
  constructor(backlog: number) {
    super(`spool backlog of ${backlog} bytes is at its limit`);
    this.name = 'SpoolFullError';
  }
}

interface Pending {
  data: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Directories this process has open: a second spool on the same directory would interleave writes. */
const openHere = new Set<string>();

export class Spool {
  readonly dir: string;
  readonly #options: SpoolOptions;
  /** Size of every segment on disk that the shipper has not finished; the active one included. */
  readonly #sizes = new Map<number, number>();
  #active: number;
  #writer: FileHandle;
  /** The next segment, zero-filled ahead, once the active one is half full. */
  #spare: Promise<FileHandle> | undefined;
  #queue: Pending[] = [];
  #queuedBytes = 0;
  #writing: Promise<void> | undefined;
  /** Ends a commit delay early, once the waiting group is large enough. */
  #groupFull: (() => void) | undefined;
  #draining = false;
  #checkpoint: SpoolPosition;
  #waiters: (() => void)[] = [];
  #reader: { segment: number; handle: FileHandle } | undefined;
  /** checkpoint.json, open for the in-place overwrite of its record. */
  readonly #checkpointFile: FileHandle;
  #closed = false;

  private constructor(
    dir: string,
    options: SpoolOptions,
    active: number,
    writer: FileHandle,
    checkpoint: SpoolPosition,
    checkpointFile: FileHandle,
  ) {
    this.dir = dir;
    this.#options = options;
    this.#active = active;
    this.#writer = writer;
    this.#checkpoint = checkpoint;
    this.#checkpointFile = checkpointFile;
  }

  static async open(dir: string, options: SpoolOptions): Promise<Spool> {
    await mkdir(dir, { recursive: true });
    await lock(dir);
    let checkpointFile: FileHandle | undefined;
    try {
      const segments = (await readdir(dir))
        .map((name) => SEGMENT.exec(name)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number)
        .sort((a, b) => a - b);
      const active = (segments.at(-1) ?? 0) + 1;
      let checkpoint = readCheckpoint(dir) ?? { segment: segments[0] ?? active, offset: 0 };
      const first = segments.find((s) => s >= checkpoint.segment);
      if (first === undefined) checkpoint = { segment: active, offset: 0 };
      else if (first > checkpoint.segment) checkpoint = { segment: first, offset: 0 };
      // Not truncated: the record read above stays until the first commit overwrites it. A file
      // longer than a record (not one this code wrote) is cut, so that the record parses alone.
      checkpointFile = await open(join(dir, CHECKPOINT), constants.O_WRONLY | constants.O_CREAT);
      const { size } = await checkpointFile.stat();
      if (size > CHECKPOINT_BYTES) await checkpointFile.truncate(CHECKPOINT_BYTES);
      // Left by a crash of a build that wrote the checkpoint by rename.
      await rm(join(dir, `${CHECKPOINT}.tmp`), { force: true });
      const writer = await createSegment(dir, active, options.segmentBytes);
      const spool = new Spool(dir, options, active, writer, checkpoint, checkpointFile);
      for (const s of segments) {
        if (s < checkpoint.segment) await unlink(segmentPath(dir, s));
        else spool.#sizes.set(s, await dataLength(segmentPath(dir, s)));
      }
      spool.#sizes.set(active, 0);
      return spool;
    } catch (error) {
      await checkpointFile?.close().catch(() => undefined);
      await unlock(dir);
      throw error;
    }
  }

  /** The first position not yet acknowledged by Kafka (where the shipper resumes). */
  get checkpoint(): SpoolPosition {
    return { ...this.#checkpoint };
  }

  /** Bytes written but not yet acknowledged. */
  get backlogBytes(): number {
    let total = 0;
    for (const [segment, size] of this.#sizes) if (segment >= this.#checkpoint.segment) total += size;
    return total - this.#checkpoint.offset + this.#queuedBytes;
  }

  /** Resolves once the record is on disk (its O_DSYNC write returned), with every record queued beside it. */
  append(record: SpoolRecord): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('spool is closed'));
    const data = `${JSON.stringify(record)}\n`;
    // Bytes, as the segments and the drain count them (a string's length counts UTF-16 units).
    const bytes = Buffer.byteLength(data);
    const backlog = this.backlogBytes;
    if (backlog + bytes > this.#options.maxBytes) return Promise.reject(new SpoolFullError(backlog));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ data, resolve, reject });
      this.#queuedBytes += bytes;
      if (this.#queue.length >= COMMIT_DELAY_BELOW) this.#groupFull?.();
      if (!this.#draining) {
        this.#draining = true;
        this.#writing = this.#drain();
      }
    });
  }

  async #drain(): Promise<void> {
    // The flag is cleared in the same tick as the final empty-queue check, so an append never
    // lands in a queue that no drain will visit.
    for (;;) {
      if (this.#queue.length === 0) {
        this.#draining = false;
        return;
      }
      const delay = this.#options.commitDelayMs ?? 0;
      if (delay > 0 && this.#queue.length < COMMIT_DELAY_BELOW) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            this.#groupFull = undefined;
            resolve();
          };
          const timer = setTimeout(done, delay);
          this.#groupFull = done;
        });
      }
      const batch = this.#queue;
      this.#queue = [];
      const text = batch.map((p) => p.data).join('');
      const buffer = Buffer.from(text);
      const segment = this.#active;
      const at = this.#sizes.get(segment) ?? 0;
      const started = performance.now();
      try {
        // Each write is durable when it returns (O_DSYNC), a short one included.
        let written = 0;
        while (written < buffer.length) {
          const { bytesWritten } = await this.#writer.write(
            buffer,
            written,
            buffer.length - written,
            at + written,
          );
          written += bytesWritten;
        }
      } catch (error) {
        this.#queuedBytes -= buffer.length;
        for (const p of batch) p.reject(error);
        // Part of the batch may be on disk without its newline; continue in a fresh segment so the
        // next record is not glued to a torn one.
        await this.#rotate().catch(() => undefined);
        continue;
      }
      // Counted as queued until it is counted in its segment, so the backlog includes a write in flight.
      this.#queuedBytes -= buffer.length;
      this.#sizes.set(segment, at + buffer.length);
      this.#options.onSync?.((performance.now() - started) / 1000, batch.length);
      for (const p of batch) p.resolve();
      this.wake();
      // A failed rotation keeps appending to the current segment.
      const size = this.#sizes.get(this.#active) ?? 0;
      if (size >= this.#options.segmentBytes) await this.#rotate().catch(() => undefined);
      else if (size >= this.#options.segmentBytes / 2 && !this.#spare) this.#prepareSpare();
    }
  }

  #prepareSpare(): void {
    const spare = createSegment(this.dir, this.#active + 1, this.#options.segmentBytes);
    spare.catch(() => undefined); // a failed fill is retried by the rotation
    this.#spare = spare;
  }

  async #rotate(): Promise<void> {
    const next = this.#active + 1;
    const spare = this.#spare;
    this.#spare = undefined;
    const writer =
      (await spare?.catch(() => undefined)) ??
      (await createSegment(this.dir, next, this.#options.segmentBytes));
    const previous = this.#writer;
    this.#writer = writer;
    this.#active = next;
    this.#sizes.set(next, 0);
    await previous.close();
  }

  /**
   * Up to `max` durable records from `from`, and the position after them. Crosses into the next
   * segment when one is finished; skips lines that do not parse (reported through onCorrupt).
   */
  async read(from: SpoolPosition, max: number): Promise<{ records: SpoolRecord[]; next: SpoolPosition }> {
    if (this.#closed) throw new Error('spool is closed');
    const records: SpoolRecord[] = [];
    let position = { ...from };
    while (records.length < max) {
      const size = this.#sizes.get(position.segment);
      if (size === undefined) {
        const later = [...this.#sizes.keys()].filter((s) => s > position.segment).sort((a, b) => a - b)[0];
        if (later === undefined) break;
        position = { segment: later, offset: 0 };
        continue;
      }
      const finished = position.segment < this.#active;
      if (position.offset >= size) {
        if (!finished) break;
        position = { segment: position.segment + 1, offset: 0 };
        continue;
      }
      const length = Math.min(READ_CHUNK, size - position.offset);
      const chunk = Buffer.alloc(length);
      const handle = await this.#readHandle(position.segment);
      const { bytesRead } = await handle.read(chunk, 0, length, position.offset);
      let start = 0;
      let consumedAny = false;
      while (records.length < max) {
        const newline = chunk.indexOf(10, start);
        if (newline === -1 || newline >= bytesRead) break;
        const line = chunk.subarray(start, newline).toString('utf8');
        const lineAt = { segment: position.segment, offset: position.offset + start };
        start = newline + 1;
        consumedAny = true;
        const record = parseRecord(line);
        if (record) records.push(record);
        else this.#options.onCorrupt?.(lineAt);
      }
      if (!consumedAny) {
        // No complete line left: a torn tail of a finished segment, never acknowledged; skip it.
        if (finished && position.offset + bytesRead >= size) {
          this.#options.onCorrupt?.(position);
          position = { segment: position.segment + 1, offset: 0 };
          continue;
        }
        break;
      }
      position = { segment: position.segment, offset: position.offset + start };
    }
    return { records, next: position };
  }

  async #readHandle(segment: number): Promise<FileHandle> {
    if (this.#reader?.segment === segment) return this.#reader.handle;
    await this.#reader?.handle.close();
    this.#reader = undefined;
    const handle = await open(segmentPath(this.dir, segment), 'r');
    this.#reader = { segment, handle };
    return handle;
  }

  /**
   * Records that everything before `position` is in Kafka (written in place, not synced), then
   * deletes the segments wholly before it. One commit at a time (the shipper awaits each).
   */
  async commit(position: SpoolPosition): Promise<void> {
    if (this.#closed) throw new Error('spool is closed');
    const record = encodeCheckpoint(position);
    const { bytesWritten } = await this.#checkpointFile.write(record, 0, record.length, 0);
    if (bytesWritten !== record.length) {
      throw new Error(`checkpoint write of ${bytesWritten} of ${record.length} bytes`);
    }
    this.#checkpoint = { ...position };
    for (const segment of [...this.#sizes.keys()]) {
      if (segment >= position.segment || segment === this.#active) continue;
      this.#sizes.delete(segment);
      if (this.#reader?.segment === segment) {
        await this.#reader.handle.close();
        this.#reader = undefined;
      }
      await rm(segmentPath(this.dir, segment), { force: true });
    }
  }

  /** Resolves after the next group commit, or after `timeoutMs`. */
  waitForData(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.push(done);
    });
  }

  /** Releases every waitForData. */
  wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Finishes the writes in flight, then closes the files and releases the directory. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writing;
    await this.#writer.close();
    // An unused spare holds no data: remove it rather than leave an empty segment behind.
    const spare = await this.#spare?.catch(() => undefined);
    if (spare) {
      await spare.close();
      await rm(segmentPath(this.dir, this.#active + 1), { force: true });
    }
    await this.#reader?.handle.close();
    await this.#checkpointFile.close();
    this.wake();
    await unlock(this.dir);
  }
}

function parseRecord(line: string): SpoolRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  const click = asClick(parsed);
  if (!click) return undefined;
  const trace = (parsed as { trace?: unknown }).trace;
  if (trace && typeof trace === 'object') {
    const carrier: Record<string, string> = {};
    for (const [k, v] of Object.entries(trace)) if (typeof v === 'string') carrier[k] = v;
    return { ...click, trace: carrier };
  }
  return click;
}

/**
 * A new segment, zero-filled to `bytes` and synced with its directory entry, then open for durable
 * writes in place (O_DSYNC; the fill goes through a plain handle and one sync, not a sync per chunk).
 */
async function createSegment(dir: string, segment: number, bytes: number): Promise<FileHandle> {
  const handle = await open(segmentPath(dir, segment), 'wx');
  try {
    const zeros = Buffer.alloc(Math.min(bytes, READ_CHUNK));
    for (let at = 0; at < bytes; at += zeros.length) {
      await handle.write(zeros, 0, Math.min(zeros.length, bytes - at), at);
    }
    await handle.sync();
    const directory = await open(dir, 'r');
    await directory.sync().finally(() => directory.close());
    return await open(segmentPath(dir, segment), constants.O_WRONLY | constants.O_DSYNC);
  } catch (error) {
    await rm(segmentPath(dir, segment), { force: true });
    throw error;
  } finally {
    await handle.close();
  }
}

/** Where a segment's data ends: after its last non-zero byte (the rest was zero-filled ahead). */
async function dataLength(path: string): Promise<number> {
  const handle = await open(path, 'r');
  try {
    let end = (await handle.stat()).size;
    const chunk = Buffer.alloc(READ_CHUNK);
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await handle.read(chunk, 0, end - start, start);
      for (let i = bytesRead - 1; i >= 0; i--) if (chunk[i] !== 0) return start + i + 1;
      end = start;
    }
    return 0;
  } finally {
    await handle.close();
  }
}

function segmentPath(dir: string, segment: number): string {
  return join(dir, `${String(segment).padStart(12, '0')}.log`);
}

/** The JSON whose CRC-32 the record carries: the position's part of the record. */
const checkpointBody = (p: SpoolPosition) => `{"segment":${p.segment},"offset":${p.offset}`;

/** `{"segment":3,"offset":1200,"crc":123}`, space-padded to CHECKPOINT_BYTES with a final newline. */
function encodeCheckpoint(position: SpoolPosition): Buffer {
  const body = checkpointBody(position);
  const record = Buffer.alloc(CHECKPOINT_BYTES, ' ');
  record.write(`${body},"crc":${crc32(body)}}`);
  record[CHECKPOINT_BYTES - 1] = 0x0a;
  return record;
}

/**
 * The checkpoint on disk: the in-place record (its CRC must match), or the `{"segment","offset"}`
 * file of builds that wrote it by rename (no CRC; a rename leaves the whole file or none of it).
 */
function readCheckpoint(dir: string): SpoolPosition | undefined {
  const file = join(dir, CHECKPOINT);
  if (!existsSync(file)) return undefined;
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<SpoolPosition> & { crc?: unknown };
    if (Number.isSafeInteger(value.segment) && Number.isSafeInteger(value.offset)) {
      const position = { segment: value.segment!, offset: value.offset! };
      if (value.crc === undefined || value.crc === crc32(checkpointBody(position))) return position;
    }
  } catch {
    // Torn or empty (a crash, or a file created but never written): no checkpoint.
  }
  // Start from the oldest segment: what Kafka acknowledged is re-sent, and counted once downstream.
  return undefined;
}

/**
 * One writer per directory: two ingest processes appending to one segment would interleave their
 * lines. The lock holds the owner's pid; a lock whose process is gone (a crash) is taken over.
 */
async function lock(dir: string): Promise<void> {
  if (openHere.has(dir)) throw new Error(`spool ${dir} is already open in this process`);
  const file = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' });
      openHere.add(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(file, 'utf8'));
      if (owner !== process.pid && alive(owner)) {
        throw new Error(
          `spool ${dir} is locked by running process ${owner}; give each instance its own SPOOL_DIR`,
        );
      }
      await rm(file, { force: true });
    }
  }
  throw new Error(`could not lock spool ${dir}`);
}

async function unlock(dir: string): Promise<void> {
  openHere.delete(dir);
  await rm(join(dir, LOCK), { force: true });
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
