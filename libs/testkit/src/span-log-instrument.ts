// Loaded with `node --import` (SPAN_LOG) in place of `@sdlab/service-kit/instrument`: the kit's
// real SDK and instrumentations, with the span log as the only span processor. The kit is the one
// the started service depends on, resolved from its folder (the process's cwd), so the testkit
// needs no dependency on the kit, whose own tests use the testkit.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spanLogProcessor } from './span-log.ts';

interface KitTelemetry {
  defaultServiceName(): string;
  startTelemetry(options: { spanProcessors: unknown[] }): unknown;
}

const telemetryPath = createRequire(join(process.cwd(), 'package.json')).resolve(
  '@sdlab/service-kit/telemetry',
);
const { defaultServiceName, startTelemetry } = (await import(
  pathToFileURL(telemetryPath).href
)) as KitTelemetry;
// As the kit's instrument entry does: the SDK reads the name once, now.
process.env.OTEL_SERVICE_NAME ??= defaultServiceName();
startTelemetry({ spanProcessors: [spanLogProcessor] });
