// The chat gateway: WebSockets in, Postgres for durability, Redis for the connection registry,
// presence, pub/sub routing between instances and per-connection rate limits. Run several
// (PORT=8083, PORT=8093 ...): any instance serves any user.
import { createService, runIfMain } from '@sdlab/service-kit';
import { postgresAdapter } from './adapters/postgres.ts';
import { redisAdapter } from './adapters/redis.ts';
import { Config, checkConfig } from './config.ts';
import { chatDomain } from './domain/plugin.ts';
import { conversationRoutes } from './routes/conversations/index.ts';
import { presenceRoutes } from './routes/presence/index.ts';
import { tokenRoutes } from './routes/tokens/index.ts';
import { wsRoutes } from './routes/ws/index.ts';

export async function buildApp(env: NodeJS.ProcessEnv = process.env) {
  const service = await createService({
    name: 'chat-gateway',
    description: 'WhatsApp-style chat: WebSockets, a connection registry, pub/sub routing, offline catch-up',
    config: Config,
    defaults: { PORT: 8083 },
    env,
    secrets: ['JWT_SECRET'],
    devOnly: ['TOKEN_ENDPOINT_ENABLED'],
  });
  const { app, config } = service;
  checkConfig(config);

  await app.register(postgresAdapter, { config });
  await app.register(redisAdapter, { config });
  await app.register(chatDomain, { config });

  await app.register(tokenRoutes, { config });
  await app.register(conversationRoutes, { config });
  await app.register(presenceRoutes);
  await app.register(wsRoutes);
  return service;
}

runIfMain(import.meta, buildApp);
