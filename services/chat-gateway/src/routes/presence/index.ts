import type { App } from '@sdlab/service-kit';
import Type from 'typebox';
import { ProblemSchema, UserId } from '../../schemas/common.ts';

const MAX_USERS = 100;

/** `GET /presence`: online (a live registry entry on any instance) and last seen, per user. */
export async function presenceRoutes(app: App) {
  app.addHook('onRequest', app.chat.authenticate);

  app.get(
    '/presence',
    {
      schema: {
        tags: ['presence'],
        summary: 'Presence of up to 100 users, derived from the connection registry',
        querystring: Type.Object(
          {
            userIds: Type.String({
              pattern: `^[A-Za-z0-9_-]{1,64}(,[A-Za-z0-9_-]{1,64}){0,${MAX_USERS - 1}}$`,
              description: `comma-separated user ids, at most ${MAX_USERS}`,
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            users: Type.Array(
              Type.Object({
                userId: UserId,
                online: Type.Boolean(),
                devices: Type.Integer({ minimum: 0 }),
                lastSeenAt: Type.Union([Type.String(), Type.Null()]),
              }),
            ),
          }),
          400: ProblemSchema,
          401: ProblemSchema,
        },
      },
    },
    async (request) => {
      const userIds = [...new Set(request.query.userIds.split(','))];
      return { users: await app.chat.registry.presence(userIds) };
    },
  );
}
