import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
  IsolatedCircuitError,
} from 'cockatiel';

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

/**
 * cockatiel's circuit breaker in front of Redis: while Redis is down the circuit is open and every
 * call fails at once (no socket, no timer), so the failure policy answers in microseconds instead
 * of each request waiting out a timeout. A consecutive-failure breaker, not a sampling one: a Redis
 * outage fails every call, so five in a row is an unambiguous signal and needs no traffic floor.
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
  readonly #breaker;
  readonly #onLateAnswer: (() => void) | undefined;

  constructor(
    options: Partial<BreakerOptions> = {},
    onState?: (state: BreakerState) => void,
    onLateAnswer?: () => void,
  ) {
    this.options = { ...DEFAULT_BREAKER, ...options };
    this.#onLateAnswer = onLateAnswer;
    this.#breaker = circuitBreaker(handleAll, {
      halfOpenAfter: this.options.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(this.options.failures),
    });
    if (onState) this.#breaker.onStateChange((state) => onState(toName(state)));
  }

  /** Runs `command` unless the circuit is open; its answer, or a RedisTimeoutError. */
  execute<T>(command: () => Promise<T>): Promise<T> {
    return this.#breaker.execute(() => this.#answeredWithin(command(), this.options.timeoutMs));
  }

  get state(): BreakerState {
    return toName(this.#breaker.state);
  }

  /**
   * One timer for every call in flight, not one per call: calls start in order and share one
   * timeout, so the oldest unanswered call is always the next to expire. A call is a queue entry;
   * the timer runs only to the oldest deadline. (A setTimeout and clearTimeout per call made and
   * dropped a Node timer list each time at low rates, where every call is alone in flight.)
   */
  #answeredWithin<T>(reply: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call: InFlight = {
        deadline: performance.now() + ms,
        settled: false,
        expire: () => {
          reject(new RedisTimeoutError(ms));
          reply.then(
            () => this.#onLateAnswer?.(),
            () => undefined,
          );
        },
      };
      this.#inFlight.push(call);
      this.#timer ??= setTimeout(this.#expire, ms).unref();
      reply.then(
        (value) => {
          if (call.settled) return;
          call.settled = true;
          this.#dropSettled();
          resolve(value);
        },
        (error: unknown) => {
          if (call.settled) return;
          call.settled = true;
          this.#dropSettled();
          reject(error);
        },
      );
    });
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

function toName(state: CircuitState): BreakerState {
  if (state === CircuitState.Closed) return 'closed';
  if (state === CircuitState.HalfOpen) return 'half-open';
  return 'open';
}

export function failureReason(error: unknown): FailureReason {
  if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) return 'breaker-open';
  if (error instanceof RedisTimeoutError) return 'timeout';
  return 'error';
}
