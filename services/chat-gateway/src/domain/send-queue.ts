/** The part of a `ws` WebSocket the send queue uses (a fake in unit tests). */
export interface SendTarget {
  readonly bufferedAmount: number;
  send(data: string, callback: (error?: Error) => void): void;
}

export interface SendQueueOptions {
  /**
   * The socket under the target: corked at a turn's first direct write and uncorked on the next
   * tick, so the frames written in one turn (the acks of one commit, the records of one pub/sub
   * payload) leave in one write instead of one syscall each (Node's cork/nextTick pattern).
   */
  corkable?: { cork(): void; uncork(): void };
  /** Bytes the socket may hold unsent (ws `bufferedAmount`) before frames wait here instead. */
  highWaterBytes: number;
  /** Frames that may wait here; one more means the consumer stays behind. */
  maxQueued: number;
  /**
   * Bytes that may wait here (UTF-8). Frames vary from a 60-byte typing note to a history page of
   * hundreds of KB, so a frame count alone does not bound the memory a slow reader holds.
   */
  maxQueuedBytes: number;
  /** Called once, when the queue overflows: the owner closes the socket (4008). */
  onOverflow: () => void;
}

/**
 * A bounded send queue in front of one socket (backpressure for slow consumers).
 *
 * While the socket drains, frames go straight to it. Once it holds `highWaterBytes` unsent, new
 * frames wait in a queue of at most `maxQueued`; each completed write moves waiting frames on. A
 * consumer that cannot keep up overflows the queue and is disconnected instead of growing the
 * gateway's memory without bound; nothing is lost, since every message is in Postgres and the
 * client syncs from its last seq when it reconnects.
 */
export class SendQueue {
  readonly #target: SendTarget;
  readonly #options: SendQueueOptions;
  #queue: string[] = [];
  #head = 0;
  #queuedBytes = 0;
  #closed = false;
  #corked = false;
  readonly #uncork = () => {
    this.#corked = false;
    this.#options.corkable?.uncork();
  };
  /** Bound once: a write callback per frame without a closure per frame. */
  readonly #written = (error?: Error) => {
    if (!error) this.#flush();
  };

  constructor(target: SendTarget, options: SendQueueOptions) {
    this.#target = target;
    this.#options = options;
  }

  /** Frames waiting in the gateway (not counting what the socket itself buffers). */
  get depth(): number {
    return this.#queue.length - this.#head;
  }

  /** Bytes waiting in the gateway. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queues or sends one frame; false when the send queue is closed or just overflowed. */
  send(frame: string): boolean {
    if (this.#closed) return false;
    if (this.depth === 0 && this.#target.bufferedAmount < this.#options.highWaterBytes) {
      if (!this.#corked && this.#options.corkable) {
        this.#corked = true;
        this.#options.corkable.cork();
        process.nextTick(this.#uncork);
      }
      this.#target.send(frame, this.#written);
      return true;
    }
    const bytes = Buffer.byteLength(frame);
    if (this.depth >= this.#options.maxQueued || this.#queuedBytes + bytes > this.#options.maxQueuedBytes) {
      this.close();
      this.#options.onOverflow();
      return false;
    }
    this.#queue.push(frame);
    this.#queuedBytes += bytes;
    return true;
  }

  /** Stops sending and drops what waits (the socket is closing). */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
  }

  #flush(): void {
    while (!this.#closed && this.depth > 0 && this.#target.bufferedAmount < this.#options.highWaterBytes) {
      const frame = this.#queue[this.#head]!;
      this.#queue[this.#head++] = '';
      this.#queuedBytes -= Buffer.byteLength(frame);
      this.#target.send(frame, this.#written);
    }
    // Compact now and then: the array is not shifted per frame (O(n) each), only once half is spent.
    if (this.#head > 64 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
