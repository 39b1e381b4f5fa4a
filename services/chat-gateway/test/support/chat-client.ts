import { ChatClient as Client } from '@sdlab/testkit/chat-client';
import type { ServerFrame } from '../../src/schemas/frames.ts';

export { ClosedError } from '@sdlab/testkit/chat-client';

/** The testkit's chat client, typed with this gateway's server frames. */
export type ChatClient = Client<ServerFrame>;
export const ChatClient = {
  connect: Client.connect<ServerFrame>,
  outcome: Client.outcome,
  refusal: Client.refusal,
};
