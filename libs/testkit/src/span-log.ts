import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The node flag value that loads the span log in place of `@sdlab/service-kit/instrument`:
 * `node --import <SPAN_LOG> src/main.ts` runs the real SDK and instrumentations, and every
 * finished span becomes one JSON line on stdout (an in-process exporter, STYLE.md 19).
 */
export const SPAN_LOG = fileURLToPath(
  // .ts from source, .js from a build
  new URL(`./span-log-instrument${extname(import.meta.url)}`, import.meta.url),
);

/** One finished span as the span log writes it. */
export interface LoggedSpan {
  span: string;
  /** OTEL_SERVICE_NAME of the process that finished it. */
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  /** The spans this one links to (a batch links to the requests it serves). */
  links: { traceId: string; spanId: string }[];
}

/** The fields of an SDK ReadableSpan the log reads (structural: the testkit does not load the SDK). */
interface FinishedSpan {
  name: string;
  spanContext(): { traceId: string; spanId: string };
  parentSpanContext?: { spanId: string } | undefined;
  attributes: Record<string, unknown>;
  links: { context: { traceId: string; spanId: string } }[];
}

/** A span processor that writes each finished span to stdout as a LoggedSpan JSON line. */
export const spanLogProcessor = {
  onStart(): void {},
  onEnd(span: FinishedSpan): void {
    const { traceId, spanId } = span.spanContext();
    // `span` first: readers pick span lines out of the log output by their opening characters.
    const line: LoggedSpan = {
      span: span.name,
      service: process.env.OTEL_SERVICE_NAME ?? '',
      traceId,
      spanId,
      ...(span.parentSpanContext ? { parentSpanId: span.parentSpanContext.spanId } : {}),
      attributes: span.attributes,
      links: span.links.map(({ context }) => ({ traceId: context.traceId, spanId: context.spanId })),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  },
  forceFlush: async (): Promise<void> => {},
  shutdown: async (): Promise<void> => {},
};

/** The spans in a process's stdout, in the order they finished (other lines and a partial last line skipped). */
export function readSpanLog(stdout: string): LoggedSpan[] {
  return stdout
    .slice(0, stdout.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line.startsWith('{"span"'))
    .map((line) => JSON.parse(line) as LoggedSpan);
}
