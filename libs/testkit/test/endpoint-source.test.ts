import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chooseEndpointSource, type SourceFacts } from '../src/endpoint-source.ts';
import { resolveEndpoints } from '../src/endpoints.ts';

const facts = (over: Partial<SourceFacts>): SourceFacts => ({
  envComplete: false,
  dockerFlag: undefined,
  nativeRunning: false,
  nativeInstalled: async () => false,
  dockerAnswers: async () => false,
  ...over,
});

describe('chooseEndpointSource', () => {
  it('takes explicit variables over everything else', async () => {
    const all = facts({
      envComplete: true,
      dockerFlag: 'true',
      nativeRunning: true,
      dockerAnswers: async () => true,
    });
    expect(await chooseEndpointSource(all)).toBe('env');
  });

  it('uses Docker when asked for, even with the native stack running', async () => {
    expect(await chooseEndpointSource(facts({ dockerFlag: 'true', nativeRunning: true }))).toBe('docker');
  });

  it('prefers a running or installed native stack to an engine that merely answers', async () => {
    const engine = async () => true;
    expect(await chooseEndpointSource(facts({ nativeRunning: true, dockerAnswers: engine }))).toBe('native');
    expect(
      await chooseEndpointSource(facts({ nativeInstalled: async () => true, dockerAnswers: engine })),
    ).toBe('native');
  });

  it('falls back to Docker only when nothing native is installed, and never when forbidden', async () => {
    expect(await chooseEndpointSource(facts({ dockerAnswers: async () => true }))).toBe('docker');
    expect(await chooseEndpointSource(facts({ dockerFlag: 'false', dockerAnswers: async () => true }))).toBe(
      'native',
    );
    expect(await chooseEndpointSource(facts({}))).toBe('native');
  });
});

describe('resolveEndpoints with a Docker engine answering', () => {
  let dir: string;
  let engine: Server;
  const engineRequests: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sdlab-endpoints-'));
    // An engine that answers every call, so a run that asked it for containers would get that far.
    engine = createServer((req, res) => {
      engineRequests.push(`${req.method} ${req.url}`);
      res.writeHead(req.url?.endsWith('/_ping') ? 200 : 500, { 'content-type': 'text/plain' }).end('OK');
    });
    await new Promise<void>((resolve) => engine.listen(join(dir, 'docker.sock'), resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => engine.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps to the running native stack and never asks the engine for containers', async () => {
    // The servers this run uses, written where the native stack writes its endpoints.
    const servers = inject('sdlabEndpoints');
    const run = join(dir, 'run');
    mkdirSync(run);
    writeFileSync(
      join(run, 'endpoints.json'),
      JSON.stringify({ ...servers, kafka: servers.kafka.join(','), source: undefined }),
    );
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SDLAB_RUN: run,
      DOCKER_HOST: `unix://${dir}/docker.sock`,
    };
    const { endpoints, stop } = await resolveEndpoints(env);
    expect(stop).toBeUndefined();
    expect(endpoints.source).toBe('native');
    expect(endpoints.postgres).toBe(servers.postgres);
    expect(engineRequests.filter((r) => !r.endsWith('/_ping'))).toEqual([]);
  });

  it('says what to do when asked for Docker and the engine cannot give containers', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `unix://${dir}/docker.sock`; // testcontainers reads the process's variable
    try {
      const env = { ...process.env, SDLAB_TEST_DOCKER: 'true', DATABASE_URL: undefined };
      await expect(resolveEndpoints(env)).rejects.toThrow(/infra\/images\/build\.sh[\s\S]*SDLAB_TEST_DOCKER/);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});
