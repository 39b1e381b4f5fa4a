import type { App } from '@sdlab/service-kit';
import Type from 'typebox';
import type { Config } from '../../config.ts';
import { ChatErrors } from '../../errors.ts';
import { DeviceId, ProblemSchema, Timestamp, UserId } from '../../schemas/common.ts';

/**
 * `POST /tokens`: a signed access token for any user and device, for local use and tests. An
 * identity provider does this in a real deployment; TOKEN_ENDPOINT_ENABLED=false turns it off.
 */
export async function tokenRoutes(app: App, opts: { config: Config }) {
  app.post(
    '/tokens',
    {
      schema: {
        tags: ['auth'],
        summary: 'Issue a local access token (HS256 JWT) for a user and device',
        body: Type.Object({ userId: UserId, deviceId: DeviceId }, { additionalProperties: false }),
        response: {
          201: Type.Object({
            token: Type.String(),
            expiresAt: Timestamp,
            userId: UserId,
            deviceId: DeviceId,
          }),
          400: ProblemSchema,
          404: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      if (!opts.config.TOKEN_ENDPOINT_ENABLED) throw new ChatErrors.TokenEndpointDisabled();
      const { userId, deviceId } = request.body;
      const issued = await app.chat.tokens.issue(userId, deviceId);
      return reply.code(201).send({ ...issued, userId, deviceId });
    },
  );
}
