/**
 * The 'slow' fault: a latency proxy (@sdlab/testkit's, a TCP proxy that delays every answer) in
 * front of a server, and the server's endpoint rewritten to go through it, in the form the plan
 * hands it to the processes. The server itself is never touched.
 */
import { type LatencyProxy, startLatencyProxy } from '@sdlab/testkit/infra';
import type { FaultServer } from './scenario.ts';

export interface SlowedServer {
  /** The endpoint the processes are given instead of the server's, e.g. http://127.0.0.1:41234. */
  endpoint: string;
  proxy: LatencyProxy;
}

export async function proxyServer(server: FaultServer, endpoint: string): Promise<SlowedServer> {
  // A client learns the broker's advertised address from its first answer and connects there:
  // only the first request would go through the proxy.
  if (server === 'kafka')
    throw new Error('kafka cannot be slowed by a TCP proxy (clients follow its advertised listener)');
  const target = new URL(endpoint);
  const proxy = await startLatencyProxy(`${target.protocol}//${target.host}`);
  // Only host:port changes: a database URL keeps its user and path.
  return { endpoint: endpoint.replace(target.host, new URL(proxy.url).host), proxy };
}
