/**
 * Collapses concurrent calls for the same key into one: the first caller runs `load`, the rest
 * await its promise. 200 simultaneous misses for a cold code therefore cost one Redis read and at
 * most one Postgres read per instance, instead of 200 (the stampede [003:706]).
 */
export class SingleFlight<V> {
  readonly #inFlight = new Map<string, Promise<V>>();

  /** `onJoin` runs for every caller that shared a load already in flight. */
  run(key: string, load: () => Promise<V>, onJoin?: () => void): Promise<V> {
    const existing = this.#inFlight.get(key);
    if (existing) {
      onJoin?.();
      return existing;
    }
    const promise = load().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, promise);
    return promise;
  }

  get size(): number {
    return this.#inFlight.size;
  }
}
