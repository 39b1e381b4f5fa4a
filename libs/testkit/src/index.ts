export { type EsFixture, type KafkaFixture, type PgFixture, type RedisFixture, test } from './fixtures.ts';
export * from './infra.ts';
