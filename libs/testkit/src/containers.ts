import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import type { Endpoints } from './endpoints.ts';
import { freePort } from './free-port.ts';

// Used when asked for (SDLAB_TEST_DOCKER=true) or when an engine answers and nothing native is
// installed. Image versions come from the compose file's `.env`, so tests and `docker compose up`
// agree; a `*_IMAGE` variable in the environment wins, as it does for compose (e.g. the images
// infra/images/build.sh builds without a registry).
const ENV_FILE = fileURLToPath(new URL('../../../.env', import.meta.url));

function composeImages(env: NodeJS.ProcessEnv): Record<string, string> {
  const images: Record<string, string> = {};
  for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
    const match = line.match(/^([A-Z0-9_]+_IMAGE)=(\S+)/);
    if (match) images[match[1]!] = env[match[1]!] || match[2]!;
  }
  return images;
}

function image(images: Record<string, string>, name: string): string {
  const value = images[name];
  if (!value) throw new Error(`testkit: ${name} is not set in ${ENV_FILE}`);
  return value;
}

export async function startContainers(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ endpoints: Endpoints; stop: () => Promise<void> }> {
  const images = composeImages(env);
  // Kafka advertises the same port the host connects to, so the host port is chosen here.
  const kafkaPort = await freePort();
  const settled = await Promise.allSettled([
    new GenericContainer(image(images, 'POSTGRES_IMAGE'))
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withCommand(['postgres', '-c', 'max_connections=300', '-c', 'fsync=off'])
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start(),
    new GenericContainer(image(images, 'REDIS_IMAGE'))
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .start(),
    new GenericContainer(image(images, 'KAFKA_IMAGE'))
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: `PLAINTEXT://0.0.0.0:${kafkaPort},CONTROLLER://0.0.0.0:9093`,
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      })
      .withExposedPorts({ container: kafkaPort, host: kafkaPort })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .start(),
    new GenericContainer(image(images, 'ELASTICSEARCH_IMAGE'))
      .withEnvironment({
        'discovery.type': 'single-node',
        'xpack.security.enabled': 'false',
        ES_JAVA_OPTS: '-Xms512m -Xmx512m',
      })
      .withExposedPorts(9200)
      .withWaitStrategy(Wait.forHttp('/_cluster/health?wait_for_status=yellow', 9200).forStatusCode(200))
      .withStartupTimeout(180_000)
      .start(),
    new GenericContainer(image(images, 'JAEGER_IMAGE'))
      .withExposedPorts(4318, 16686)
      .withWaitStrategy(Wait.forHttp('/', 16686).forStatusCode(200))
      .start(),
  ]);
  const started = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failed.length > 0) {
    await Promise.allSettled(started.map((c) => c.stop()));
    throw new Error(
      `testkit: Docker-backed test servers did not start: ${failed.map((e) => e.message).join('; ')}\n` +
        'If no image registry is reachable, build the images from package registries ' +
        '(bash infra/images/build.sh; it prints the *_IMAGE variables to export), or use the native ' +
        'servers instead: unset SDLAB_TEST_DOCKER (or set it to false) and run `pnpm infra:install`.',
    );
  }
  const [pg, redis, , es, jaeger] = started as [
    StartedTestContainer,
    StartedTestContainer,
    StartedTestContainer,
    StartedTestContainer,
    StartedTestContainer,
  ];
  const host = (c: StartedTestContainer, port: number) => `${c.getHost()}:${c.getMappedPort(port)}`;
  return {
    endpoints: {
      source: 'docker',
      postgres: `postgres://postgres@${host(pg, 5432)}/postgres`,
      redis: `redis://${host(redis, 6379)}`,
      kafka: [`127.0.0.1:${kafkaPort}`],
      elasticsearch: `http://${host(es, 9200)}`,
      otlp: `http://${host(jaeger, 4318)}`,
      jaeger: `http://${host(jaeger, 16686)}`,
    },
    stop: async () => {
      await Promise.all(started.map((c) => c.stop()));
    },
  };
}
