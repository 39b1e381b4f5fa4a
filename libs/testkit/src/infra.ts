// The servers and helpers without the vitest fixtures: for scripts (the load runner, the stack)
// that run outside a test.
export { type Endpoints, endpointsFromEnv, resolveEndpoints, runDir } from './endpoints.ts';
export { createTestDatabase, dropTestDatabase } from './postgres.ts';
export {
  freePort,
  type LatencyProxy,
  type PrivateKafka,
  type PrivateServer,
  startLatencyProxy,
  startPrivateElasticsearch,
  startPrivateKafka,
  startPrivatePostgres,
  startPrivateRedis,
} from './private-servers.ts';
export { deleteRedisKeys } from './redis-keys.ts';
export { uniqueId } from './unique-id.ts';
