export { type EsFixture, type KafkaFixture, type PgFixture, type RedisFixture, test } from './fixtures.ts';
export { describeFuzz, expectFuzzClean } from './fuzz-check.ts';
export * from './infra.ts';
export { type FuzzFinding, type FuzzReport, fuzzOpenApi } from './openapi-fuzz.ts';
export { type PostReply, postJson } from './post-json.ts';
export {
  type NodeProcess,
  type NodeProcessOptions,
  type ServiceProcess,
  type ServiceProcessOptions,
  spawnNode,
  startServiceProcess,
} from './service-process.ts';
export { type LoggedSpan, readSpanLog, SPAN_LOG } from './span-log.ts';
export { type WaitOptions, waitFor } from './wait-for.ts';
