import { mkdtempSync, readFileSync } from 'node:fs';
import { Agent, get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnExample, startExample } from './spawn-example.ts';

describe('start-up with bad configuration', () => {
  it('exits non-zero and names every bad variable', async () => {
    const { exited, stderr } = spawnExample({ PORT: 'eighty', EXAMPLE_GREETING: 'x'.repeat(40) });
    expect(await exited).toBe(1);
    expect(stderr()).toContain('kit-example: invalid configuration');
    expect(stderr()).toContain('PORT must be integer');
    expect(stderr()).toContain('EXAMPLE_GREETING must NOT have more than 32 characters');
  });
});

describe('graceful shutdown on SIGTERM', () => {
  it('lets an in-flight request finish, closes resources newest first, and exits 0', async () => {
    const closeLog = join(mkdtempSync(join(tmpdir(), 'kit-close-')), 'closed.txt');
    const service = await startExample({ EXAMPLE_CLOSE_LOG: closeLog });
    const inFlight = fetch(`${service.url}/slow?ms=800`);
    // Let the request reach the handler before the signal arrives.
    await new Promise((resolve) => setTimeout(resolve, 200));
    service.child.kill('SIGTERM');

    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ waitedMs: 800 });
    expect(await service.exited).toBe(0);

    // The order as each resource closed, appended to a file at that moment (its stdout lines went
    // through a pipe the test reads; the file is the record of the order itself).
    expect(readFileSync(closeLog, 'utf8').split('\n').filter(Boolean)).toEqual([
      'second-consumer',
      'first-pool',
    ]);
    const closed = service.lines.filter(
      (line): line is { closed: string } => typeof line === 'object' && line !== null && 'closed' in line,
    );
    expect(closed.map((line) => line.closed).sort()).toEqual(['first-pool', 'second-consumer']);
    const logged = service.lines.filter(
      (line): line is { msg: string; time: string } =>
        typeof line === 'object' && line !== null && 'msg' in line && 'time' in line,
    );
    expect(logged.map((line) => line.msg)).toContain('shutting down: draining in-flight requests');
    // Nothing happens after shutdown completes, read from each line's own timestamp: at exit pino's
    // stream writes what it still buffers synchronously, which can reach the pipe before an earlier
    // asynchronous write, so the order of the lines on stdout is not the order they were logged in.
    // The in-flight request's access-log line comes from Fastify's onResponse hook (the response's
    // 'finish' event), which on a loaded machine can run after the server has closed; that one
    // line's place is not pinned (the response itself was checked above).
    const complete = logged.filter((line) => line.msg === 'shutdown complete');
    expect(complete).toHaveLength(1);
    const end = complete[0]!.time;
    const draining = logged.find((line) => line.msg === 'shutting down: draining in-flight requests')!;
    expect(draining.time <= end).toBe(true);
    expect(logged.filter((line) => line.time > end && line.msg !== 'request completed')).toEqual([]);
  });

  it('answers a request in flight on a keep-alive connection with Connection: close', async () => {
    const service = await startExample({ SHUTDOWN_TIMEOUT_MS: '5000' });
    const agent = new Agent({ keepAlive: true });
    const request = (path: string) =>
      new Promise<IncomingMessage>((resolve, reject) => {
        get(`${service.url}${path}`, { agent }, (response) => {
          response.resume();
          response.once('end', () => resolve(response));
        }).once('error', reject);
      });
    // Before draining the connection is kept open, so the header below is the drain's doing.
    const before = await request('/hello/ada');
    expect(before.headers.connection).toBe('keep-alive');
    const inFlight = request('/slow?ms=600');
    await new Promise((resolve) => setTimeout(resolve, 150));
    service.child.kill('SIGTERM');
    const answered = await inFlight;
    expect(answered.statusCode).toBe(200);
    expect(answered.headers.connection).toBe('close');
    expect(await service.exited).toBe(0);
    agent.destroy();
  });

  it('refuses new connections once draining has started', async () => {
    const service = await startExample({ SHUTDOWN_TIMEOUT_MS: '5000' });
    const inFlight = fetch(`${service.url}/slow?ms=600`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    service.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 150));
    const late = await fetch(`${service.url}/hello/ada`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(late);
    expect((await inFlight).status).toBe(200);
    expect(await service.exited).toBe(0);
  });
});
