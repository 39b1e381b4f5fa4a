// The bare handler: a server of the same request/response shape as a service with no work behind
// it, driven by k6 at the service's rate. Its p99 is what k6 and the machine alone cost at that
// rate; `pnpm load` (run.ts) and the compose smoke (running-stack.ts) both judge a latency
// threshold against it (efficiency.ts `generatorBound`).
import { join } from 'node:path';
import { achievedRate, type K6Result, measuredRate } from './k6.ts';
import { type Running, startNode } from './processes.ts';
import { type BareShape, REPO_ROOT, type ServiceUnderTest } from './services.ts';

// As the service processes run (run.ts startProcesses), so only the work differs.
const PRODUCTION = { NODE_ENV: 'production' };

export function startBare(shape: BareShape, logDir: string, cpus?: string): Promise<Running> {
  if (shape.kind === 'ws') {
    return startNode('bare-ws', REPO_ROOT, 'loadtests/limits/bare-ws.ts', PRODUCTION, logDir, { cpus });
  }
  return startNode(
    'bare-fastify',
    REPO_ROOT,
    'loadtests/limits/bare-fastify.ts',
    { ...PRODUCTION, BARE_STATUS: String(shape.status), BARE_RESPONSE_BYTES: String(shape.responseBytes) },
    logDir,
    { cpus },
  );
}

/** The bare handler's k6 script and environment for a shape at a rate. */
export function bareScript(shape: BareShape, url: string, rate: number, duration: string, profile: string) {
  const common = {
    PROFILE: profile,
    BASE_URL: url,
    RATE: String(Math.max(1, Math.round(rate))),
    DURATION: duration,
  };
  return shape.kind === 'ws'
    ? { script: join(REPO_ROOT, 'loadtests/limits/bare-ws.js'), env: common }
    : {
        script: join(REPO_ROOT, 'loadtests/limits/bare.js'),
        env: { ...common, METHOD: shape.method, BODY_BYTES: String(shape.requestBytes) },
      };
}

/** Requests (or delivered messages, for the ws shape) a bare k6 run completed, and its latency metric. */
export function bareCounts(shape: BareShape, result: K6Result) {
  const metric = shape.kind === 'ws' ? 'bare_delivery_ms' : 'http_req_duration';
  const count = Number(
    result.metrics[shape.kind === 'ws' ? 'bare_messages_delivered' : 'http_reqs']?.count ?? 0,
  );
  const m = result.metrics[metric] ?? {};
  return {
    count,
    p50: Number(m['p(50)'] ?? 0),
    p95: Number(m['p(95)'] ?? 0),
    p99: Number(m['p(99)'] ?? 0),
  };
}

export function shapeText(shape: BareShape): string {
  return shape.kind === 'ws'
    ? 'WebSocket relay: JSON frame in, ack back, frame to the peer'
    : `${shape.method}${shape.requestBytes ? ` with ${shape.requestBytes} B of JSON` : ''} -> ${shape.status}${shape.responseBytes ? ` with ${shape.responseBytes} B of JSON` : ''}`;
}

/** The arrival rate the service was offered: requests per second, or messages sent per second. */
export function offeredRate(service: ServiceUnderTest, result: K6Result): number {
  if (service.shape.kind === 'ws') return measuredRate(result, 'chat_messages_sent');
  return achievedRate(result);
}
