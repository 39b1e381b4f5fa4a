import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  closureOf,
  graphFromCompose,
  jobsFromCompose,
  planFromCompose,
  selectionOf,
  serversFor,
  shiftPorts,
  UnknownServiceError,
} from '../stack/plan.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NATIVE = {
  postgres: 'postgres://postgres@127.0.0.1:5432/postgres',
  redis: 'redis://127.0.0.1:6379',
  kafka: '127.0.0.1:9092',
  elasticsearch: 'http://127.0.0.1:9200',
  otlp: 'http://127.0.0.1:4318',
};

describe('the native stack follows docker-compose.yml', () => {
  const plan = planFromCompose(ROOT, NATIVE);

  it('runs every service folder that compose builds, from an entry that exists', () => {
    for (const p of plan) {
      expect(existsSync(join(ROOT, p.dir, p.entry)), `${p.name}: ${p.dir}/${p.entry}`).toBe(true);
    }
    const services = readdirSync(join(ROOT, 'services')).filter((d) =>
      existsSync(join(ROOT, 'services', d, 'src/main.ts')),
    );
    const planned = new Set(plan.map((p) => p.dir));
    for (const service of services)
      expect(planned, `services/${service} has no compose entry`).toContain(`services/${service}`);
  });

  it('gives each process the port and environment compose gives it, pointed at the native servers', () => {
    const api = plan.find((p) => p.name === 'url-shortener')!;
    expect(api).toMatchObject({ dir: 'services/url-shortener', entry: 'src/main.ts', port: 8081 });
    expect(api.env).toMatchObject({
      // Development mode is explicit: without it a production-mode start refuses the committed secrets.
      SDLAB_DEV_MODE: 'true',
      PORT: '8081',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/sdlab',
      REDIS_URL: NATIVE.redis,
      KAFKA_BROKERS: NATIVE.kafka,
      OTEL_EXPORTER_OTLP_ENDPOINT: NATIVE.otlp,
      PUBLIC_BASE_URL: 'http://localhost:8081',
    });
    const worker = plan.find((p) => p.name === 'url-shortener-worker')!;
    expect(worker).toMatchObject({ entry: 'src/worker.ts', port: 9481, dependsOn: ['url-shortener'] });
  });

  it("runs compose's one-shot jobs once, pointed at the native services (the booking seed)", () => {
    const jobs = jobsFromCompose(ROOT, NATIVE);
    const seed = jobs.find((j) => j.name === 'ticket-booking-seed');
    expect(seed).toMatchObject({
      dir: 'services/ticket-booking',
      entry: 'src/seed.ts',
      after: ['ticket-booking'],
    });
    expect(seed!.env).toMatchObject({ SEED_BASE_URL: 'http://127.0.0.1:8085', SEED_SKIP_IF_PRESENT: 'true' });
    expect(existsSync(join(ROOT, seed!.dir, seed!.entry))).toBe(true);
    // A job is not a process to keep running, and waiting on it does not block a process natively.
    expect(plan.map((p) => p.name)).not.toContain('ticket-booking-seed');
    expect(plan.find((p) => p.name === 'ticket-booking-worker')!.dependsOn).toEqual(['ticket-booking']);
  });

  it('shifts every port, and every address of a planned process, by an offset (the fault tests)', () => {
    const shifted = shiftPorts(plan, 20_000);
    const at = (name: string) => shifted.find((p) => p.name === name)!;
    const before = (name: string) => plan.find((p) => p.name === name)!;
    expect(at('ticket-booking')).toMatchObject({ port: 28085, env: { PORT: '28085' } });
    expect(at('ticket-booking').env.PAYMENT_PROVIDER_URL).toBe('http://127.0.0.1:28086');
    expect(at('payment-provider').env.WEBHOOK_URL).toBe('http://127.0.0.1:28085/webhooks/payments');
    expect(at('url-shortener').env.PUBLIC_BASE_URL).toBe('http://localhost:28081');
    // The servers' addresses are not app ports: they stay.
    for (const key of ['DATABASE_URL', 'REDIS_URL', 'KAFKA_BROKERS'])
      expect(at('url-shortener').env[key]).toBe(before('url-shortener').env[key]);
    expect(shifted.map((p) => p.port)).toEqual(plan.map((p) => p.port + 20_000));
  });

  it('starts a service after the services it depends on, and no two on one port', () => {
    const order = plan.map((p) => p.name);
    for (const p of plan)
      for (const dep of p.dependsOn) expect(order.indexOf(dep)).toBeLessThan(order.indexOf(p.name));
    const ports = plan.map((p) => p.port);
    expect(new Set(ports).size).toBe(ports.length);
  });
});

describe('Prometheus in compose', () => {
  it('scrapes every service and worker compose runs, on its port', () => {
    const config = readFileSync(join(ROOT, 'infra/compose/prometheus/prometheus.yml'), 'utf8');
    for (const p of planFromCompose(ROOT, NATIVE)) {
      expect(config, `${p.name}:${p.port}`).toContain(`"${p.name}:${p.port}"`);
    }
  });
});

describe('one service with what it needs (pnpm stack up <service>), as docker compose up <service>', () => {
  const graph = graphFromCompose(ROOT);

  it('starts a service, what it depends_on, and the servers that needs plus observability', () => {
    const rateLimiter = selectionOf(graph, ['rate-limiter']);
    expect(rateLimiter.services).toEqual(['redis', 'rate-limiter']);
    expect(rateLimiter.servers).toEqual(['redis', 'jaeger', 'prometheus']);
    expect(rateLimiter.leftOut).toEqual([]);

    const shortener = selectionOf(graph, ['url-shortener']);
    expect(shortener.services).toEqual(['postgres', 'redis', 'kafka', 'url-shortener']);
    expect(shortener.servers).toEqual(['postgres', 'redis', 'kafka', 'jaeger', 'prometheus']);
    expect(shortener.needs.get('url-shortener')).toEqual(['postgres', 'redis', 'kafka']);
  });

  it('brings what a service depends on but not what depends on it: naming the API leaves its worker and seed out', () => {
    const booking = selectionOf(graph, ['ticket-booking']);
    expect(booking.needs.get('ticket-booking')).toEqual([
      'postgres',
      'redis',
      'elasticsearch',
      'payment-provider',
    ]);
    expect(booking.services).not.toContain('ticket-booking-worker');
    expect(booking.services).not.toContain('ticket-booking-seed');
    // Said when it starts, since they need no further server.
    expect(booking.leftOut).toEqual(['ticket-booking-seed', 'ticket-booking-worker']);
    expect(selectionOf(graph, ['url-shortener']).leftOut).toEqual(['url-shortener-worker']);
    // The payment provider alone is not a reason to offer the booking API, which needs more servers.
    expect(selectionOf(graph, ['payment-provider']).leftOut).toEqual([]);

    const worker = selectionOf(graph, ['ticket-booking-worker']);
    for (const name of ['ticket-booking', 'payment-provider', 'ticket-booking-seed'])
      expect(worker.services).toContain(name);
    // The seed is a job: it runs once, after the API is up.
    const chosen = new Set(worker.services);
    expect(
      jobsFromCompose(ROOT, NATIVE)
        .filter((j) => chosen.has(j.name))
        .map((j) => j.name),
    ).toEqual(['ticket-booking-seed']);
    expect(worker.servers).toEqual(['postgres', 'redis', 'elasticsearch', 'jaeger', 'prometheus']);
  });

  it('starts everything compose builds when no service is named, on every native server', () => {
    const all = selectionOf(graph, []);
    const processes = planFromCompose(ROOT, NATIVE).map((p) => p.name);
    for (const name of [...processes, 'ticket-booking-seed']) expect(all.services).toContain(name);
    expect(all.servers).toEqual(['postgres', 'redis', 'kafka', 'elasticsearch', 'jaeger', 'prometheus']);
    expect(all.leftOut).toEqual([]);
  });

  it("covers every server a service's config reads with its depends_on", () => {
    const serverOf: Record<string, string> = {
      DATABASE_URL: 'postgres',
      REDIS_URL: 'redis',
      KAFKA_BROKERS: 'kafka',
      ELASTICSEARCH_URL: 'elasticsearch',
    };
    for (const p of planFromCompose(ROOT, NATIVE)) {
      const config = readFileSync(join(ROOT, p.dir, 'src/config.ts'), 'utf8');
      // A setting is named in the schema itself or spread in from the kit's fragment (postgresConfig()).
      const reads = Object.keys(serverOf)
        .filter(
          (key) =>
            new RegExp(`\\b${key}:`).test(config) ||
            (key === 'DATABASE_URL' && /\bpostgresConfig\(/.test(config)),
        )
        .map((key) => serverOf[key]);
      expect(reads.length, `${p.dir}/src/config.ts names no server`).toBeGreaterThan(0);
      const servers = serversFor(closureOf(graph, [p.name]));
      for (const server of reads) expect(servers, `${p.name} reads ${server}`).toContain(server);
    }
  });

  it('plans the processes with only the servers that are up', () => {
    const plan = planFromCompose(ROOT, { redis: NATIVE.redis, otlp: NATIVE.otlp });
    expect(plan.find((p) => p.name === 'rate-limiter')!.env.REDIS_URL).toBe(NATIVE.redis);
    expect(plan.find((p) => p.name === 'url-shortener')!.env).not.toHaveProperty('DATABASE_URL');
  });

  it('refuses a name compose does not build, listing the ones it does', () => {
    expect(() => closureOf(graph, ['url-shortener', 'nope'])).toThrow(UnknownServiceError);
    expect(() => closureOf(graph, ['nope'])).toThrow(
      /'nope'.*url-shortener, url-shortener-worker, rate-limiter/,
    );
    expect(() => closureOf(graph, ['redis'])).toThrow(/pnpm infra:up redis/);
    // pnpm stack up exits 2 on it, before it starts anything.
    const run = spawnSync(
      process.execPath,
      ['--conditions=@sdlab/source', join(ROOT, 'infra/stack/stack.ts'), 'up', 'nope'],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toContain('ticket-booking-worker');
    expect(run.stdout).toBe('');
  });
});
