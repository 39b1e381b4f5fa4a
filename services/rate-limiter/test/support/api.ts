import { Agent } from 'node:http';
import { postJson } from '@sdlab/testkit';

/** The fields of a decision the multi-process tests read. */
export interface CheckReply {
  allowed: boolean;
  source: string;
  remaining: number;
}

// Keep-alive sockets, enough for real concurrency without 1,000 TCP handshakes per round.
const agent = new Agent({ keepAlive: true, maxSockets: 128 });

/** POST /v1/checks on a running instance; the reply's decision parsed. */
export async function postCheck(
  url: string,
  body: { key: string; rule: string; cost?: number },
): Promise<{ status: number; json: CheckReply; headers: Record<string, unknown> }> {
  const reply = await postJson(url, body, agent);
  return { status: reply.status, json: JSON.parse(reply.body) as CheckReply, headers: reply.headers };
}
