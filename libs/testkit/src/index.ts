export { type Endpoints, endpointsFromEnv, resolveEndpoints, runDir } from './endpoints.ts';
export {
  type EsFixture,
  type KafkaFixture,
  type PgFixture,
  type RedisFixture,
  test,
  uniqueId,
} from './fixtures.ts';
export { createTestDatabase, dropTestDatabase } from './postgres.ts';
export { freePort, type PrivateServer, startPrivatePostgres, startPrivateRedis } from './private-servers.ts';
