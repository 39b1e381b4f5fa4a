import { trace } from '@opentelemetry/api';
import { LATENCY_BUCKETS } from '@sdlab/service-kit';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

// The gateway's own signals, beside the kit's RED metrics. Each app instance registers them on its
// own registry (app.kit.metrics), so two gateways in one test process never share counts.

export const tracer = trace.getTracer('@sdlab/chat-gateway');

/** Span names: a send's trace is chat.send -> (pg, redis) -> chat.deliver on each recipient instance. */
export const Span = {
  connect: 'chat.connect',
  send: 'chat.send',
  deliver: 'chat.deliver',
  sync: 'chat.sync',
  receipt: 'chat.receipt',
} as const;

/** Span attribute keys the service sets (the README lists what each span carries). */
export const Attr = {
  instance: 'sdlab.chat.instance_id',
  userId: 'sdlab.chat.user_id',
  deviceId: 'sdlab.chat.device_id',
  connectionId: 'sdlab.chat.connection_id',
  conversationId: 'sdlab.chat.conversation_id',
  seq: 'sdlab.chat.seq',
  duplicate: 'sdlab.chat.duplicate',
  recipients: 'sdlab.chat.recipients',
  instances: 'sdlab.chat.target_instances',
  sockets: 'sdlab.chat.sockets',
  messages: 'sdlab.chat.messages',
} as const;

export type DisconnectReason =
  | 'client'
  | 'ping_timeout'
  | 'slow_consumer'
  | 'replaced'
  | 'draining'
  | 'token_expired'
  | 'too_many_devices'
  | 'frame_too_big'
  | 'server_error';

/** Sampled from the gateway's sockets when Prometheus scrapes. */
export interface SocketSample {
  queuedFrames: number;
  maxQueuedFrames: number;
  bufferedBytes: number;
}

export function createChatMetrics(registry: Registry, sample: () => SocketSample) {
  const registers = [registry];
  return {
    openSockets: new Gauge({
      name: 'sdlab_chat_open_sockets',
      help: 'WebSocket connections open on this instance',
      registers,
    }),
    sendQueueDepth: new Gauge({
      name: 'sdlab_chat_send_queue_frames',
      help: 'Frames waiting in the per-socket send queues of this instance (sum), sampled at scrape',
      registers,
      collect() {
        this.set(sample().queuedFrames);
      },
    }),
    sendQueueMaxDepth: new Gauge({
      name: 'sdlab_chat_send_queue_max_frames',
      help: 'Longest per-socket send queue on this instance, sampled at scrape',
      registers,
      collect() {
        this.set(sample().maxQueuedFrames);
      },
    }),
    bufferedBytes: new Gauge({
      name: 'sdlab_chat_socket_buffered_bytes',
      help: 'Bytes written to sockets but not yet sent (sum of ws bufferedAmount), sampled at scrape',
      registers,
      collect() {
        this.set(sample().bufferedBytes);
      },
    }),
    connections: new Counter({
      name: 'sdlab_chat_connections_total',
      help: 'WebSocket upgrade attempts by outcome (accepted, unauthorized, draining, not_found)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    disconnects: new Counter({
      name: 'sdlab_chat_disconnects_total',
      help: 'Closed sockets by reason (client, ping_timeout, slow_consumer, replaced, draining, token_expired, ...)',
      labelNames: ['reason'] as const,
      registers,
    }),
    frames: new Counter({
      name: 'sdlab_chat_frames_received_total',
      help: 'Inbound frames by type and outcome (ok, or the error code sent back)',
      labelNames: ['type', 'outcome'] as const,
      registers,
    }),
    messages: new Counter({
      name: 'sdlab_chat_messages_stored_total',
      help: 'Sends answered with an ack: stored now (new) or found stored by an earlier try (duplicate)',
      labelNames: ['result'] as const,
      registers,
    }),
    deliveries: new Counter({
      name: 'sdlab_chat_deliveries_total',
      help: 'Frames pushed to local sockets, by kind (message, receipt, typing, conversation) and path (local, pubsub)',
      labelNames: ['kind', 'path'] as const,
      registers,
    }),
    published: new Counter({
      name: 'sdlab_chat_pubsub_published_total',
      help: 'Routed payloads published to other instances, and those no instance was listening for (miss)',
      labelNames: ['result'] as const,
      registers,
    }),
    ackDuration: new Histogram({
      name: 'sdlab_chat_ack_duration_seconds',
      help: 'From a send frame read to its ack written: rate limit, Postgres transaction',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    commitBatch: new Histogram({
      name: 'sdlab_chat_commit_batch_messages',
      help: 'Messages stored by one group commit (one transaction, one multi-row INSERT)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers,
    }),
    commits: new Counter({
      name: 'sdlab_chat_commits_total',
      help: 'Group commits by result (ok, failed: every message in it got unavailable, none was acked)',
      labelNames: ['result'] as const,
      registers,
    }),
    deliveryLag: new Histogram({
      name: 'sdlab_chat_delivery_lag_seconds',
      help: 'From a message stored to it being written to a recipient socket on this instance (same clock source across instances on one host)',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    syncedMessages: new Counter({
      name: 'sdlab_chat_synced_messages_total',
      help: 'Messages sent in history frames in answer to sync (offline catch-up)',
      registers,
    }),
    heartbeatDuration: new Histogram({
      name: 'sdlab_chat_heartbeat_duration_seconds',
      help: 'One heartbeat round: ping every socket and refresh their registry entries in one pipeline',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    retentionDeleted: new Counter({
      name: 'sdlab_chat_retention_deleted_total',
      help: 'Messages deleted by the retention job because they outlived RETENTION_DAYS',
      registers,
    }),
  };
}
export type ChatMetrics = ReturnType<typeof createChatMetrics>;
