import type { Admin } from 'kafkajs';
import { buildApp } from '../../src/main.ts';
import { buildWorker } from '../../src/worker.ts';

type App = Awaited<ReturnType<typeof buildApp>>;
type Worker = Awaited<ReturnType<typeof buildWorker>>;

/**
 * Builds API apps and workers for one test and closes them (and deletes the topics they created)
 * afterwards: consumers and BullMQ workers outlive a test body unless something stops them.
 */
export class Apps {
  readonly #open: { app: { close(): Promise<unknown> } }[] = [];
  readonly #topics = new Set<string>();

  async api(env: NodeJS.ProcessEnv): Promise<App> {
    const service = await buildApp(env);
    this.#open.push(service);
    this.#topics.add(service.config.CLICKS_TOPIC);
    await service.app.ready();
    return service;
  }

  async worker(env: NodeJS.ProcessEnv): Promise<Worker> {
    const service = await buildWorker(env);
    this.#open.push(service);
    this.#topics.add(service.config.CLICKS_TOPIC);
    return service;
  }

  async close(admin?: Admin): Promise<void> {
    await Promise.all(this.#open.splice(0).map((s) => s.app.close()));
    if (admin && this.#topics.size)
      await admin.deleteTopics({ topics: [...this.#topics] }).catch(() => undefined);
  }
}
