export interface BreakerOptions {
  /** Consecutive failed Redis calls that open the circuit. */
  failures: number;
  /** How long the circuit stays open before one trial call is let through. */
  halfOpenAfterMs: number;
  /**
   * A Redis call unanswered this long fails: the caller's failure policy decides and the breaker
   * counts it. Measured on Redis, not on this process's event loop (see RedisBreaker).
   */
  timeoutMs: number;
}

// 1 s, not 200 ms: in a burst of 1,000 checks on a busy 2-core machine (load 15) a quarter of a
// healthy Redis's answers took over 250 ms end to end. A hung Redis costs the calls in flight up
// to this long, five of them open the circuit, and every later call fails at once.
export const DEFAULT_BREAKER: BreakerOptions = { failures: 5, halfOpenAfterMs: 1000, timeoutMs: 1000 };

export type BreakerState = 'closed' | 'half-open' | 'open';
export type FailureReason = 'breaker-open' | 'timeout' | 'error';

/** A Redis command unanswered for too long. */
export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`redis did not answer within ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/** The circuit is open: Redis is not called until the half-open trial. */
export class BreakerOpenError extends Error {
  constructor() {
    super('circuit open: Redis is not called until the half-open trial');
    this.name = 'BreakerOpenError';
  }
}

/** Receives a call's answer, or why it has none: exactly one of the two is defined. */
export type CallCallback<T> = (error: Error | undefined, value: T | undefined) => void;

/**
 * A consecutive-failure circuit breaker in front of Redis: while Redis is down the circuit is open
 * and every call fails at once (no socket, no timer), so the failure policy answers in
 * microseconds instead of each request waiting out a timeout. Five failed calls in a row open it,
 * not a sampled failure rate: a Redis outage fails every call, so that signal needs no traffic
 * floor. After `halfOpenAfterMs` the next call is a trial: its success closes the circuit, its
 * failure opens it again; calls made while the trial is in flight fail at once as if open.
 *
 * Callbacks, not promises: at a low rate every check is a Redis call of its own, and cockatiel's
 * execute (two async functions, a promise and a result object each) plus a promise around the
 * timeout cost more per call than the state machine they ran (the service's perf profile at
 * 2,000 checks/s). `execute` keeps a promise API for callers off the hot path.
 *
 * The timeout measures Redis, not the event loop. Under a burst, replies wait in the socket while
 * the loop works through queued requests; a plain timer counted that wait as Redis failing, the
 * breaker opened on a healthy Redis, and the local fallback admitted again what Redis had already
 * admitted (a limit of 100 let 200-400 through). So when the timer expires the loop first reads
 * every reply already waiting (one turn through the poll phase; timers run before it), and only a
 * command still unanswered after that has timed out. Such a command may still run on Redis after
 * its caller was answered by the failure policy: that late answer is the one case of a decision
 * made twice, and `onLateAnswer` counts it.
 */
export class RedisBreaker {
  readonly options: BreakerOptions;
  readonly #onState: ((state: BreakerState) => void) | undefined;
  readonly #onLateAnswer: (() => void) | undefined;
  #state: BreakerState = 'closed';
  /** Failed calls in a row while closed. */
  #failures = 0;
  #openedAt = 0;

  constructor(
    options: Partial<BreakerOptions> = {},
    onState?: (state: BreakerState) => void,
    onLateAnswer?: () => void,
  ) {
    this.options = { ...DEFAULT_BREAKER, ...options };
    this.#onState = onState;
    this.#onLateAnswer = onLateAnswer;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Runs `command` unless the circuit is open; its answer, or a RedisTimeoutError. */
  execute<T>(command: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.call(command, (error, value) => (error ? reject(error) : resolve(value as T)));
    });
  }

  /**
   * execute() for hot paths: the answer goes to `done`, with no promise of its own. While the
   * circuit is open `done` is called before this returns.
   */
  call<T>(command: () => Promise<T>, done: CallCallback<T>): void {
    let trial = false;
    if (this.#state !== 'closed') {
      if (this.#state === 'half-open' || Date.now() - this.#openedAt < this.options.halfOpenAfterMs) {
        done(new BreakerOpenError(), undefined);
        return;
      }
      trial = true;
      this.#setState('half-open');
    }
    let reply: Promise<T>;
    try {
      reply = command();
    } catch (error) {
      reply = Promise.reject(error);
    }
    const call: InFlight = {
      deadline: performance.now() + this.options.timeoutMs,
      settled: false,
      expire: () => {
        this.#failed(trial);
        done(new RedisTimeoutError(this.options.timeoutMs), undefined);
        reply.then(
          () => this.#onLateAnswer?.(),
          () => undefined,
        );
      },
    };
    this.#inFlight.push(call);
    this.#timer ??= setTimeout(this.#expire, this.options.timeoutMs).unref();
    reply.then(
      (value) => {
        if (call.settled) return;
        call.settled = true;
        this.#dropSettled();
        this.#succeeded(trial);
        done(undefined, value);
      },
      (error: unknown) => {
        if (call.settled) return;
        call.settled = true;
        this.#dropSettled();
        this.#failed(trial);
        done(error instanceof Error ? error : new Error(String(error)), undefined);
      },
    );
  }

  #succeeded(trial: boolean): void {
    if (trial) this.#setState('closed');
    // A call from before the circuit opened says nothing about Redis now.
    if (this.#state === 'closed') this.#failures = 0;
  }

  #failed(trial: boolean): void {
    if (trial) this.#open();
    else if (this.#state === 'closed' && ++this.#failures >= this.options.failures) this.#open();
  }

  #open(): void {
    this.#openedAt = Date.now();
    this.#setState('open');
  }

  #setState(state: BreakerState): void {
    if (state === 'closed') this.#failures = 0;
    if (state === this.#state) return;
    this.#state = state;
    this.#onState?.(state);
  }

  readonly #inFlight: InFlight[] = [];
  #timer: NodeJS.Timeout | undefined;

  /** Answers arrive in order on one connection: drop the answered calls at the head. */
  #dropSettled(): void {
    const queue = this.#inFlight;
    let n = 0;
    while (n < queue.length && queue[n]!.settled) n++;
    if (n === queue.length) queue.length = 0;
    else if (n > 0) queue.splice(0, n);
  }

  /**
   * The oldest deadline passed: first one turn through the poll phase (timers run before it), so
   * replies already waiting on the socket are read; only calls still unanswered after it time out.
   */
  readonly #expire = (): void => {
    setImmediate(() => {
      this.#timer = undefined;
      const now = performance.now();
      const queue = this.#inFlight;
      let n = 0;
      for (; n < queue.length; n++) {
        const call = queue[n]!;
        if (call.settled) continue;
        if (call.deadline > now) break;
        call.settled = true;
        call.expire();
      }
      queue.splice(0, n);
      this.#dropSettled();
      if (queue.length) this.#timer = setTimeout(this.#expire, Math.max(1, queue[0]!.deadline - now)).unref();
    });
  };
}

/** A Redis call waiting for its answer (RedisBreaker's one timer watches them all). */
interface InFlight {
  deadline: number;
  settled: boolean;
  expire(): void;
}

export function failureReason(error: unknown): FailureReason {
  if (error instanceof BreakerOpenError) return 'breaker-open';
  if (error instanceof RedisTimeoutError) return 'timeout';
  return 'error';
}
