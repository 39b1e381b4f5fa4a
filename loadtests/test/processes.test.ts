import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { assertPortFree } from '../src/processes.ts';

describe('service ports', () => {
  it('refuses a port something listens on, and accepts it once that is gone', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await expect(assertPortFree(port)).rejects.toThrow(`port ${port} is already in use`);
    await new Promise((resolve) => server.close(resolve));
    await expect(assertPortFree(port)).resolves.toBeUndefined();
  });
});
