// The URL shortener's redirect as `pnpm load` runs it, for loadtests/bench/start-server.sh (kind
// `redirect`): lean-service.ts starts the API (with the runner's create limit) and its worker beside
// it on a fresh database and run-own topics; this creates one link through the API and follows it
// twice, so the measured GET /:code is a cache hit (the API's LRU; LRU_TTL_MS, 30 s by default, lets
// one request a TTL go to Redis). Prints one JSON line ({"listening", "pid", "workerPid", "code"})
// once everything answers, then runs until SIGTERM, when it stops both and drops the database. The
// worker listens on <port> + 1.
//   node --conditions=@sdlab/source loadtests/bench/shortener-redirect.ts <port>
// NODEFLAGS is passed to the API only.
import { once } from 'node:events';
import { benchNodeFlags, dropLogs, startLeanService } from './lean-service.ts';

async function main(): Promise<void> {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port)) throw new Error('usage: shortener-redirect.ts <port>');
  const service = await startLeanService('url-shortener', [
    // The runner's create limit (loadtests/src/services.ts); the bench creates one link.
    {
      name: 'api',
      entry: 'src/main.ts',
      port,
      env: { CREATE_LIMIT_CAPACITY: '100000' },
      nodeFlags: benchNodeFlags(),
    },
    { name: 'worker', entry: 'src/worker.ts', port: port + 1 },
  ]);
  const [api, worker] = service.processes;
  const base = `http://127.0.0.1:${port}`;
  try {
    const created = await fetch(`${base}/api/links`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `https://example.com/bench/${Date.now().toString(36)}` }),
    });
    if (created.status !== 201)
      throw new Error(`POST /api/links answered ${created.status}: ${await created.text()}`);
    const { code } = (await created.json()) as { code: string };
    for (let i = 0; i < 2; i++) {
      const redirect = await fetch(`${base}/${code}`, { redirect: 'manual' });
      if (redirect.status !== 302) throw new Error(`GET /${code} answered ${redirect.status}`);
    }
    process.stdout.write(
      `${JSON.stringify({ listening: base, pid: api!.child.pid, workerPid: worker!.child.pid, code, logs: service.logDir })}\n`,
    );
  } catch (error) {
    await service.stop();
    throw error;
  }
  await once(process, 'SIGTERM');
  await service.stop();
  await dropLogs(service);
}

await main();
