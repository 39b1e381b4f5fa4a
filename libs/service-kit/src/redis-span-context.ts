import { type Context, context } from '@opentelemetry/api';
import { type Command, Pipeline, Redis } from 'ioredis';
import { inLeafContext } from './trace-context.ts';

const QUEUED_IN = Symbol('sdlab.redis.queuedIn');
const PATCHED = Symbol.for('sdlab.redis.spanContextPatched');

type Queued = Command & { [QUEUED_IN]?: Context };
type SendCommand = (this: Redis, command: Queued, ...rest: unknown[]) => unknown;

/**
 * Sends each of this client's commands in the context its span belongs in, outside the ioredis
 * instrumentation (which reads the active context when a command is sent):
 * - in the context it was queued in: auto-pipelining (and an explicit pipeline) queues a command
 *   and sends it from the turn that flushes the pipeline, so every command of one flush landed
 *   in the trace of whichever request queued the first of them (three concurrent GETs: three
 *   spans under the first request, none under the other two);
 * - without a parent span that is not recording (`leafContext`), so the instrumentation makes
 *   no span for a command of an unsampled request.
 * The wrapper is the client's own `sendCommand`, calling the prototype's at call time: every
 * patch of the prototype (the instrumentation patches ioredis once per loader that loads it, ES
 * module and CommonJS) stays inside it. It was a prototype patch before, which the second
 * instrumentation patch wrapped again: each command got two spans, and the outer one ignored both
 * rules. Only where tracing runs (a no-op cost otherwise).
 */
export function keepRedisSpansInTheirTrace(redis: Redis): void {
  recordQueuedContext();
  const proto = Redis.prototype as unknown as { sendCommand: SendCommand };
  (redis as unknown as { sendCommand: SendCommand }).sendCommand = function (
    this: Redis,
    command: Queued,
    ...rest: unknown[]
  ) {
    return inLeafContext(command?.[QUEUED_IN] ?? context.active(), () =>
      proto.sendCommand.call(this, command, ...rest),
    );
  };
}

/** A pipeline records the context each command is queued in (the pipeline is not instrumented). */
function recordQueuedContext(): void {
  const pipelineProto = Pipeline.prototype as unknown as Record<symbol, boolean> & {
    sendCommand: (command: Queued) => unknown;
  };
  if (pipelineProto[PATCHED]) return;
  pipelineProto[PATCHED] = true;
  const queue = pipelineProto.sendCommand;
  pipelineProto.sendCommand = function (this: Pipeline, command: Queued) {
    // A command re-queued after a cluster redirection keeps the context it was first queued in.
    command[QUEUED_IN] ??= context.active();
    return queue.call(this, command);
  };
}
