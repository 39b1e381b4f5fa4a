import type { FastifyBaseLogger } from 'fastify';

type Close = () => Promise<unknown> | unknown;

/**
 * What a service holds open (pools, producers, consumers, loops). Closed in reverse order of
 * registration: a consumer registered after the pool it writes to is stopped before the pool ends.
 */
export class Resources {
  readonly #stack: { name: string; close: Close }[] = [];

  add(name: string, close: Close): void {
    this.#stack.push({ name, close });
  }

  get names(): string[] {
    return this.#stack.map((r) => r.name);
  }

  /** Closes everything, newest first; one failure is logged and does not stop the rest. */
  async closeAll(log: FastifyBaseLogger): Promise<void> {
    while (this.#stack.length > 0) {
      const { name, close } = this.#stack.pop()!;
      try {
        await close();
        log.info({ resource: name }, 'closed');
      } catch (err) {
        log.error({ err, resource: name }, 'failed to close');
      }
    }
  }
}
