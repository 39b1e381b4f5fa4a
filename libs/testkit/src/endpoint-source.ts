/** Where a run's servers come from; the order is the testkit's contract (README "The test command"). */
export type EndpointSource = 'env' | 'docker' | 'native';

export interface SourceFacts {
  /** All four of DATABASE_URL, REDIS_URL, KAFKA_BROKERS, ELASTICSEARCH_URL are set. */
  envComplete: boolean;
  /** SDLAB_TEST_DOCKER: 'true' asks for Docker-backed servers, 'false' forbids them. */
  dockerFlag: string | undefined;
  /** The native stack's endpoints.json exists and its servers accept connections. */
  nativeRunning: boolean;
  /** `infra.sh installed` succeeds: the native stack can be started. */
  nativeInstalled: () => Promise<boolean>;
  /** A Docker engine answers on DOCKER_HOST or the default socket. */
  dockerAnswers: () => Promise<boolean>;
}

/**
 * Explicit variables win, then an explicit request for Docker, then a running native stack, then a
 * native stack that can be started. A Docker engine that merely answers is used only when nothing
 * native is installed: an engine on the machine must not switch a run to images it may not be able
 * to pull.
 */
export async function chooseEndpointSource(facts: SourceFacts): Promise<EndpointSource> {
  if (facts.envComplete) return 'env';
  if (facts.dockerFlag === 'true') return 'docker';
  if (facts.nativeRunning) return 'native';
  if (facts.dockerFlag === 'false') return 'native';
  if (await facts.nativeInstalled()) return 'native';
  return (await facts.dockerAnswers()) ? 'docker' : 'native';
}
