// `node --conditions=@sdlab/source loadtests/bench/chat-append-cost.ts [--seconds 3] [--conversations 100]`:
// what one message costs Postgres in the chat gateway's group commit, by batch size. Calls
// chat.append_messages (the function the gateway's send path runs once per commit) on one
// connection with batches of 1..256 messages spread over the conversations, and reads that
// backend's own CPU time from /proc, so other work on a shared server does not count.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTestDatabase, dropTestDatabase, resolveEndpoints, uniqueId } from '@sdlab/testkit/infra';
import pg from 'pg';
import { processCpuMs } from '../src/cpu-usage.ts';
import { REPO_ROOT } from '../src/services.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    conversations: { type: 'string', default: '100' },
    sizes: { type: 'string', default: '1,4,16,64,256' },
  },
});
const SECONDS = Number(values.seconds);
const CONVERSATIONS = Number(values.conversations);
const MIGRATIONS = join(REPO_ROOT, 'services/chat-gateway/migrations');
const APPEND =
  'SELECT * FROM chat.append_messages($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[])';

const { endpoints, stop } = await resolveEndpoints();
const database = `load_chat_append_${uniqueId().slice(0, 8)}`;
const url = await createTestDatabase(endpoints.postgres, database);
const client = new pg.Client({ connectionString: url });
try {
  await client.connect();
  await client.query('CREATE SCHEMA chat');
  // The migrations' up halves, in order (node-pg-migrate's own table is not needed here).
  for (const file of (await readdir(MIGRATIONS)).filter((f) => f.endsWith('.sql')).sort()) {
    const sql = await readFile(join(MIGRATIONS, file), 'utf8');
    await client.query(sql.split('-- Down Migration')[0]!);
  }
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO chat.conversations (kind, direct_key, created_by)
     SELECT 'direct', 'a' || g || ':b' || g, 'a' || g FROM generate_series(1, $1) g RETURNING id`,
    [CONVERSATIONS],
  );
  const ids = rows.map((r) => r.id);
  await client.query(
    `INSERT INTO chat.conversation_members (conversation_id, user_id, role)
     SELECT c.id, u.user_id, 'member' FROM chat.conversations c,
       LATERAL (VALUES (c.created_by), ('b' || substr(c.created_by, 2))) u(user_id)`,
  );
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  let counter = 0;
  const lines = [
    '| batch | commits/s | messages/s on one connection | backend CPU µs / message | wall µs / message |',
    '|---|---|---|---|---|',
  ];
  for (const size of values.sizes.split(',').map(Number)) {
    const run = async (seconds: number) => {
      const cpuBefore = processCpuMs(pid)!;
      const started = performance.now();
      let commits = 0;
      while (performance.now() - started < seconds * 1000) {
        const batch = Array.from({ length: size }, (_, i) => {
          const n = counter++;
          const conv = (n + i) % ids.length;
          return { conv: ids[conv]!, sender: `a${conv + 1}`, id: `m${n}`, text: `bench ${n}` };
        });
        await client.query(APPEND, [
          batch.map((b) => b.conv),
          batch.map((b) => b.sender),
          batch.map((b) => b.id),
          batch.map((b) => b.text),
          batch.map(() => Date.now()),
        ]);
        commits++;
      }
      const wall = performance.now() - started;
      return { commits, wall, cpu: processCpuMs(pid)! - cpuBefore };
    };
    await run(0.5); // warm-up: plan cache, buffers
    const { commits, wall, cpu } = await run(SECONDS);
    const messages = commits * size;
    lines.push(
      `| ${size} | ${Math.round((commits * 1000) / wall)} | ${Math.round((messages * 1000) / wall)} | ${((cpu * 1000) / messages).toFixed(1)} | ${((wall * 1000) / messages).toFixed(1)} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await client.end();
  await dropTestDatabase(endpoints.postgres, database).catch(() => undefined);
  await stop?.();
}
