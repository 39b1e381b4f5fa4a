import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { untraced } from './trace-context.ts';

export type PipelineReplies = [error: Error | null, result: unknown][];

/** An ioredis pipeline (or a service's typed one, with its scripts as commands). */
export interface QueuedPipeline {
  readonly length: number;
  exec(): Promise<PipelineReplies | null>;
}

const tracer = trace.getTracer('@sdlab/service-kit');

/**
 * Sends an explicit pipeline as one client span, `redis <name>`, with its command count, in place
 * of a span per command: a chat routing flush reads the session entries of every recipient of
 * every message in it in one round trip, and a sampled message's trace got one span for each of
 * them (~70 a message under load, up to ~500), most of what tracing the gateway cost. `build`
 * creates and fills the pipeline; it runs, and the pipeline is sent, with tracing suppressed
 * under a recording span. Under any other, the commands are sent as they are (and make no span).
 */
export async function execPipeline(name: string, build: () => QueuedPipeline): Promise<PipelineReplies> {
  if (!trace.getSpan(context.active())?.isRecording()) return (await build().exec()) ?? [];
  return tracer.startActiveSpan(
    `redis ${name}`,
    { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'redis', 'db.operation.name': 'PIPELINE' } },
    async (span) => {
      try {
        const replies = await untraced(async () => {
          const pipeline = build();
          span.setAttribute('db.operation.batch.size', pipeline.length);
          return (await pipeline.exec()) ?? [];
        });
        const failed = replies.filter(([error]) => error !== null).length;
        if (failed > 0) {
          span.setAttribute('sdlab.redis.failed_commands', failed);
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: `${failed} of ${replies.length} commands failed`,
          });
        }
        return replies;
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
