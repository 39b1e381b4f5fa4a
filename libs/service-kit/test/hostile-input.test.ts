import { connect } from 'node:net';
import { fuzzOpenApi } from '@sdlab/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExample } from './fixtures/example-service.ts';

let url: string;
let app: Awaited<ReturnType<typeof buildExample>>['app'];

beforeAll(async () => {
  ({ app } = await buildExample({ LOG_LEVEL: 'silent' }));
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => app.close());

function raw(request: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.end(request));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('input no handler sees is problem+json too', () => {
  it('bad URLs, overlong parameters and NUL characters are coded 400s', async () => {
    for (const path of ['/hello/%ZZ', `/hello/${'a'.repeat(200)}`, '/hello/a%00b', '/slow?ms=1%00']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status, path).toBeGreaterThanOrEqual(400);
      expect(response.status, path).toBeLessThan(500);
      expect(response.headers.get('content-type'), path).toContain('application/problem+json');
    }
    const nul = await fetch(`${url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'a\u0000b', count: 1 }),
    });
    expect(nul.status).toBe(400);
    expect(await nul.json()).toMatchObject({
      code: 'SDLAB_KIT_NUL_CHARACTER',
      detail: expect.stringContaining('body.text'),
    });
  });

  it('a NUL in the path or the query is refused before any handler runs, with the request id', async () => {
    // /healthz answers 200 to anything else, so a 400 here was not the route's doing.
    for (const path of ['/healthz?probe=%00', '/hello/a%00b', '/slow?ms=1%00']) {
      const response = await fetch(`${url}${path}`, { headers: { 'x-request-id': 'nul-probe' } });
      expect(response.status, path).toBe(400);
      expect(response.headers.get('x-request-id'), path).toBe('nul-probe');
      expect(await response.json(), path).toMatchObject({ code: 'SDLAB_KIT_NUL_CHARACTER' });
    }
    expect((await fetch(`${url}/healthz?probe=ok`)).status).toBe(200);
  });

  it('a request the HTTP parser refuses gets a problem+json answer, not a bare close', async () => {
    const answer = await raw('GET /hello/ada HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('application/problem+json');
    const huge = await raw(`GET /hello/ada HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('the fuzz pass finds nothing on the example service', async () => {
    // /boom is the example's deliberate 500 (the fuzzer reports it when included).
    const report = await fuzzOpenApi({ baseUrl: url, document: app.swagger(), skip: ['GET /boom'] });
    expect(report.cases).toBeGreaterThan(50);
    expect(report.findings).toEqual([]);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});
