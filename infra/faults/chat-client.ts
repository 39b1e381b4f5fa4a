/**
 * The fault scenarios' way into a chat gateway: a token and a direct conversation over HTTP, and
 * the testkit's chat client with the scenarios' settings: the token in `?access_token=` (the
 * path clients that cannot set headers take), 10 s waits, and a close that gives up after 2 s,
 * since the gateway it says goodbye to may be stopped.
 */
import { ChatClient, type ChatClientOptions } from '@sdlab/testkit/chat-client';
import { call, expectStatus } from './probe.ts';

export type { ChatClient } from '@sdlab/testkit/chat-client';

const OPTIONS: ChatClientOptions = { viaQuery: true, waitMs: 10_000, closeWaitMs: 2_000 };

const wsUrl = (baseUrl: string) => `${baseUrl.replace(/^http/, 'ws')}/ws`;

export async function chatToken(baseUrl: string, userId: string, deviceId = 'phone'): Promise<string> {
  const answer = await call(`${baseUrl}/tokens`, { json: { userId, deviceId } });
  expectStatus(answer, 201, `token for ${userId}`);
  return (answer.body as { token: string }).token;
}

export async function directConversation(baseUrl: string, token: string, peerId: string): Promise<string> {
  const answer = await call(`${baseUrl}/conversations/direct`, {
    json: { peerId },
    headers: { authorization: `Bearer ${token}` },
  });
  expectStatus(answer, [200, 201], `direct conversation with ${peerId}`);
  return (answer.body as { id: string }).id;
}

/** A connected client past `hello`, on the gateway at `baseUrl` (http://host:port). */
export function connectChat(baseUrl: string, token: string): Promise<ChatClient> {
  return ChatClient.connect(wsUrl(baseUrl), token, OPTIONS);
}

/** The close code a new connection gets, or 'hello' if the gateway accepts it. */
export function chatOutcome(baseUrl: string, token: string): Promise<number | 'hello'> {
  return ChatClient.outcome(wsUrl(baseUrl), token, OPTIONS);
}
