import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { RateLimiter } from '@sdlab/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.ts';
import { ChatErrors } from '../errors.ts';
import { type ChatMetrics, createChatMetrics } from '../telemetry.ts';
import { ChatService } from './chat-service.ts';
import { ConversationsRepository } from './conversations-repository.ts';
import { Gateway, SYNC_CONVERSATIONS_MAX } from './gateway.ts';
import { GroupCommit } from './group-commit.ts';
import { FrameParser } from './protocol.ts';
import { type Retention, startRetention } from './retention.ts';
import { Router } from './router.ts';
import { createSendLimiter } from './send-limiter.ts';
import { SessionRegistry } from './session-registry.ts';
import { bearerToken, type Identity, TokenService } from './tokens.ts';

export interface Chat {
  instanceId: string;
  metrics: ChatMetrics;
  repository: ConversationsRepository;
  tokens: TokenService;
  registry: SessionRegistry;
  router: Router;
  limiter: RateLimiter;
  service: ChatService;
  gateway: Gateway;
  retention: Retention | undefined;
  /** onRequest hook of the REST routes: a valid bearer token, or 401. */
  authenticate(request: FastifyRequest): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    chat: Chat;
  }
  interface FastifyRequest {
    identity: Identity;
  }
}

/** The gateway's domain objects over the adapters, decorated once as `app.chat`. */
export const chatDomain = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const { config } = opts;
    const instanceId = config.INSTANCE_ID || defaultInstanceId();
    let gateway: Gateway | undefined;
    const metrics = createChatMetrics(app.kit.metrics, () => gateway?.stats() ?? EMPTY_SAMPLE);
    const repository = new ConversationsRepository(app.pg);
    const tokens = new TokenService({
      secret: config.JWT_SECRET,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      ttlS: config.JWT_TTL_S,
    });
    const registry = new SessionRegistry({
      redis: app.redis,
      keys: app.keys,
      instanceId,
      ttlMs: config.REGISTRY_TTL_MS,
      lastSeenTtlS: config.LAST_SEEN_TTL_S,
      maxDevices: config.MAX_DEVICES_PER_USER,
    });
    const router = new Router({
      redis: app.redis,
      subscriber: app.redisSubscriber,
      keys: app.keys,
      instanceId,
      registry,
      metrics,
      log: app.log,
    });
    const limiter = createSendLimiter({
      redis: app.redis,
      config,
      keyPrefix: app.keys.rateLimitPrefix,
      registry: app.kit.metrics,
      logger: app.log,
    });
    app.kit.resources.add('rate-limiter', () => limiter.close());
    const commits = new GroupCommit({
      commit: (batch) => repository.appendBatch(batch),
      maxMessages: config.GROUP_COMMIT_MAX_MESSAGES,
      maxBytes: config.GROUP_COMMIT_MAX_BYTES,
      windowMs: config.GROUP_COMMIT_WINDOW_MS,
      concurrency: config.GROUP_COMMIT_CONCURRENCY,
      metrics,
    });
    const service = new ChatService({
      repository,
      commits,
      router,
      limiter,
      metrics,
      log: app.log,
      pageMax: config.PAGE_MAX,
      historyFrameMaxBytes: config.HISTORY_FRAME_MAX_BYTES,
    });
    const parser = new FrameParser({
      maxFrameBytes: config.MAX_FRAME_BYTES,
      maxMessageChars: config.MAX_MESSAGE_CHARS,
      pageMax: config.PAGE_MAX,
      syncConversationsMax: SYNC_CONVERSATIONS_MAX,
    });
    gateway = new Gateway({
      config,
      instanceId,
      tokens,
      registry,
      router,
      chat: service,
      parser,
      metrics,
      log: app.log,
    });
    const sockets = gateway;
    await router.start(sockets);
    sockets.start(app.server);
    // Before the HTTP server stops: upgraded sockets would otherwise keep it from closing.
    app.addHook('preClose', () => sockets.drain());
    app.kit.readiness.add('gateway', async () => {
      if (sockets.draining) throw new Error('draining: not accepting connections');
    });

    let retention: Retention | undefined;
    if (config.RETENTION_ENABLED) {
      const job = await startRetention({
        redisUrl: config.REDIS_URL,
        prefix: app.keys.bullPrefix,
        pool: app.pg,
        settings: { days: config.RETENTION_DAYS, batch: config.RETENTION_BATCH },
        everyMs: config.RETENTION_EVERY_MS,
        runWorker: true,
        metrics,
        log: app.log,
      });
      app.kit.resources.add('retention', () => job.close());
      retention = job;
    }

    async function authenticate(request: FastifyRequest): Promise<void> {
      const token = bearerToken(request.headers.authorization);
      if (!token) throw new ChatErrors.Unauthorized('missing Authorization: Bearer <token>');
      try {
        request.identity = await tokens.verify(token);
      } catch (err) {
        throw new ChatErrors.Unauthorized((err as Error).message);
      }
    }

    app.decorateRequest('identity', null as unknown as Identity);
    app.decorate('chat', {
      instanceId,
      metrics,
      repository,
      tokens,
      registry,
      router,
      limiter,
      service,
      gateway: sockets,
      retention,
      authenticate,
    });
    app.log.info({ instanceId, channel: router.channel }, 'chat gateway ready');
  },
  { name: 'chat-domain', dependencies: ['postgres', 'redis'] },
);

const EMPTY_SAMPLE = { queuedFrames: 0, maxQueuedFrames: 0, bufferedBytes: 0 };

/** Host name plus a random part: unique per process start, readable in the registry. */
function defaultInstanceId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9_.-]/g, '')
      .slice(0, 40) || 'gw';
  return `${host}-${randomBytes(4).toString('hex')}`;
}
