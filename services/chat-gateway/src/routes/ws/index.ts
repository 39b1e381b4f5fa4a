import type { App } from '@sdlab/service-kit';
import { WS_PATH } from '../../domain/gateway.ts';
import { ChatErrors } from '../../errors.ts';
import { ProblemSchema } from '../../schemas/common.ts';

/**
 * The WebSocket endpoint as OpenAPI sees it. Upgrade requests never reach this handler (the
 * gateway takes them from the HTTP server's `upgrade` event); a plain GET gets 426.
 */
export async function wsRoutes(app: App) {
  app.get(
    WS_PATH,
    {
      schema: {
        tags: ['websocket'],
        summary: 'WebSocket endpoint (frame protocol v1, see the README)',
        description:
          'Upgrade with `Authorization: Bearer <token>` or `?access_token=<token>`. 401 without a valid ' +
          'token, 503 while the instance drains. Then JSON text frames: the server says `hello`, the ' +
          'client sends `sync` with its last seen seq per conversation, then `send`, `typing`, ' +
          '`receipt`, `ping`. Close codes: 1012 reconnect elsewhere, 4001 token expired, 4003 too many ' +
          'devices, 4008 slow consumer, 4009 replaced by a newer connection of the device.',
        response: { 426: ProblemSchema },
      },
    },
    async () => {
      throw new ChatErrors.WebSocketUpgradeRequired();
    },
  );
}
