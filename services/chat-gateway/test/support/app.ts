import { buildApp } from '../../src/main.ts';

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

/**
 * Two instances on one configuration (two ports, two pools, two sets of Redis connections), both
 * closed after `use` however it ends: the set-up of every cross-instance test.
 */
export async function withTwoGateways(
  env: Record<string, string>,
  use: (a: InProcessGateway, b: InProcessGateway) => Promise<void>,
): Promise<void> {
  const a = await startGateway(env);
  const b = await startGateway(env);
  try {
    await use(a, b);
  } finally {
    await a.close();
    await b.close();
  }
}
