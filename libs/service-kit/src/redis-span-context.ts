import { type Context, context } from '@opentelemetry/api';
import { type Command, Pipeline, Redis } from 'ioredis';

const QUEUED_IN = Symbol('sdlab.redis.queuedIn');
const PATCHED = Symbol.for('sdlab.redis.spanContextPatched');

type Queued = Command & { [QUEUED_IN]?: Context };
type SendCommand = (this: Redis, command: Queued, ...rest: unknown[]) => unknown;

/**
 * Keeps each Redis command's span in the trace of the request that issued it. ioredis'
 * auto-pipelining (and an explicit pipeline) queues a command and sends it later, from the turn
 * that flushes the pipeline; the ioredis instrumentation starts the span when the command is sent,
 * so every command of one flush landed in the trace of whichever request queued the first of them
 * (three concurrent GETs: three spans under the first request, none under the other two). The
 * context is recorded when a command is queued and restored around its send, underneath the
 * instrumentation. Patched once per process, and only where tracing runs (a no-op cost otherwise).
 */
export function keepRedisSpansInTheirTrace(): void {
  const redisProto = Redis.prototype as unknown as Record<symbol, boolean> & { sendCommand: SendCommand };
  if (redisProto[PATCHED]) return;
  redisProto[PATCHED] = true;

  const pipelineProto = Pipeline.prototype as unknown as { sendCommand: (command: Queued) => unknown };
  const queue = pipelineProto.sendCommand;
  pipelineProto.sendCommand = function (this: Pipeline, command: Queued) {
    // A command re-queued after a cluster redirection keeps the context it was first queued in.
    command[QUEUED_IN] ??= context.active();
    return queue.call(this, command);
  };

  const send = redisProto.sendCommand;
  redisProto.sendCommand = function (this: Redis, command: Queued, ...rest: unknown[]) {
    const queuedIn = command?.[QUEUED_IN];
    return queuedIn
      ? context.with(queuedIn, () => send.call(this, command, ...rest))
      : send.call(this, command, ...rest);
  };
}
