import { fileURLToPath } from 'node:url';
import { type PgFixture, type RedisFixture, type ServiceProcess, startServiceProcess } from '@sdlab/testkit';
import { buildApp } from '../../src/main.ts';

const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));

/** Settings every test gateway shares: its own database and key prefix, quiet logs, loopback only. */
export function gatewayEnv(
  pg: PgFixture,
  redis: RedisFixture,
  extra: Record<string, string> = {},
): Record<string, string> {
  // The pg fixture ends its pool and then drops the database WITH (FORCE); pg-pool's end()
  // resolves before its clients have closed, so a client still closing gets "terminating
  // connection due to administrator command", which an error-less pool turns into an uncaught
  // exception. Nothing is wrong with the test's data at that point.
  if (pg.pool.listenerCount('error') === 0) pg.pool.on('error', () => undefined);
  return {
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    DATABASE_URL: pg.url,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: redis.prefix,
    RETENTION_ENABLED: 'false',
    PG_POOL_MAX: '5',
    ...extra,
  };
}

export interface InProcessGateway {
  app: Awaited<ReturnType<typeof buildApp>>['app'];
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

/**
 * A gateway built with main.ts's own factory, listening on its own loopback port with its own
 * Postgres pool and Redis connections: two of them in one test are two instances.
 */
export async function startGateway(env: Record<string, string>): Promise<InProcessGateway> {
  const { app } = await buildApp({ PORT: '0', ...env });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  let closed: Promise<void> | undefined;
  return {
    app,
    url: address,
    wsUrl: `${address.replace(/^http/, 'ws')}/ws`,
    close: () => {
      closed ??= app.close();
      return closed;
    },
  };
}

export interface GatewayProcess extends ServiceProcess {
  wsUrl: string;
}

/** The gateway as a real process (src/main.ts), for crashes (SIGKILL) and signals. */
export async function spawnGateway(
  env: Record<string, string>,
  options: { spanLog?: boolean } = {},
): Promise<GatewayProcess> {
  const gateway = await startServiceProcess('src/main.ts', { cwd: PACKAGE_DIR, env, ...options });
  return { ...gateway, wsUrl: `ws://127.0.0.1:${gateway.port}/ws` };
}

/** A token from the gateway's own local token endpoint. */
export async function tokenFor(baseUrl: string, userId: string, deviceId = 'd1'): Promise<string> {
  const response = await fetch(`${baseUrl}/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId, deviceId }),
  });
  if (response.status !== 201) throw new Error(`token: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/** Calls the REST API as a user. */
export async function api<T = unknown>(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export async function createGroup(baseUrl: string, token: string, title: string, memberIds: string[]) {
  const { status, body } = await api<{ id: string }>(baseUrl, token, 'POST', '/conversations/groups', {
    title,
    memberIds,
  });
  if (status !== 201) throw new Error(`create group: ${status} ${JSON.stringify(body)}`);
  return body.id;
}

export async function openDirect(baseUrl: string, token: string, peerId: string) {
  const { status, body } = await api<{ id: string }>(baseUrl, token, 'POST', '/conversations/direct', {
    peerId,
  });
  if (status !== 201 && status !== 200) throw new Error(`open direct: ${status} ${JSON.stringify(body)}`);
  return body.id;
}
