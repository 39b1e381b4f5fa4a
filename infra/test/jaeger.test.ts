import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { startExample } from '../../libs/service-kit/test/spawn-example.ts';

const INSTRUMENT = fileURLToPath(new URL('../../libs/service-kit/src/instrument.ts', import.meta.url));

interface JaegerTrace {
  traceID: string;
  spans: { operationName: string; spanID: string; references: { spanID: string }[] }[];
}

/**
 * The traces Jaeger holds for an operation, polled until `complete` says they are all there: the
 * collector indexes spans as they arrive, so a query can see a trace before its last span.
 */
async function findTraces(
  jaeger: string,
  service: string,
  operation: string,
  complete: (traces: JaegerTrace[]) => boolean,
): Promise<JaegerTrace[]> {
  const url = `${jaeger}/api/traces?service=${encodeURIComponent(service)}&operation=${encodeURIComponent(operation)}&limit=20`;
  let data: JaegerTrace[] = [];
  for (let attempt = 0; attempt < 40; attempt++) {
    const response = await fetch(url);
    if (response.ok) {
      ({ data } = (await response.json()) as { data: JaegerTrace[] });
      if (data.length > 0 && complete(data)) return data;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return data;
}

describe('Jaeger (real collector and query API)', () => {
  test('a span a kit service exports over OTLP is found through the query API', async ({ endpoints }) => {
    expect(endpoints.otlp, 'the stack provides an OTLP endpoint').toBeDefined();
    expect(endpoints.jaeger, 'the stack provides the Jaeger query API').toBeDefined();
    const serviceName = `kit-example-${randomBytes(3).toString('hex')}`;
    const service = await startExample(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoints.otlp,
        OTEL_SERVICE_NAME: serviceName,
        OTEL_BSP_SCHEDULE_DELAY: '200',
      },
      { nodeArgs: ['--import', INSTRUMENT] },
    );
    try {
      const echo = await fetch(`${service.url}/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'hi', count: 1 }),
      });
      expect(echo.status).toBe(200);
    } finally {
      service.child.kill('SIGTERM'); // shutdown flushes the batch of spans
    }
    expect(await service.exited).toBe(0);

    // The request's server span and the handler's own span under it.
    const traces = await findTraces(
      endpoints.jaeger!,
      serviceName,
      'POST /echo',
      ([t]) => (t?.spans.length ?? 0) > 1,
    );
    expect(traces).toHaveLength(1);
    const [trace] = traces;
    const root = trace!.spans.find((s) => s.operationName === 'POST /echo')!;
    expect(trace!.spans.some((s) => s.references.some((r) => r.spanID === root.spanID))).toBe(true);
  });
});
