import { randomBytes } from 'node:crypto';
import { type Span, trace } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { type BreakerOptions, type BreakerState, failureReason, RedisBreaker } from './breaker.ts';
import type { Decision, DecisionSource, Outcome } from './decision.ts';
import { RateLimitErrors } from './errors.ts';
import { type LimiterKeys, limiterKeys } from './keys.ts';
import { LocalCache } from './local-cache.ts';
import { LocalFallback } from './local-fallback.ts';
import { quotaOf, type Rule } from './rules.ts';
import { type BatchCheck, runBatch } from './scripts/batch.ts';
import { scriptError } from './scripts/error-codes.ts';
import { ruleValues, runScript, SCRIPT_FOR, type ScriptReply } from './scripts/loader.ts';
import { RateLimitAttributes, type RateLimitMetrics, rateLimitMetrics } from './telemetry.ts';

export interface RateLimiterOptions {
  redis: Redis;
  rules: readonly Rule[];
  /** Key prefix (e.g. `rl:`), or a key builder of the caller's own. */
  keys?: string | LimiterKeys;
  /** Where the metrics go; a service passes `app.kit.metrics`. */
  registry?: Registry;
  breaker?: Partial<BreakerOptions>;
  /** Bounds the memory of the local fallback and the local cache, per rule / overall. */
  maxLocalKeys?: number;
  logger?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

export interface CheckRequest {
  key: string;
  rule: string;
  cost?: number;
}

/**
 * Receives one decision, or the error that refused the check (an unknown rule, a cost over the
 * limit, a script's refusal): exactly one of the two is defined. It must not throw.
 */
export type DecisionCallback = (error: Error | undefined, decision: Decision | undefined) => void;

/** A single exact-mode check waiting for the end of this event-loop turn (see RateLimiter.decide). */
interface QueuedCheck extends BatchCheck {
  key: string;
  started: number;
  span: Span | undefined;
  done: DecisionCallback;
}

/** Checks per script run when single checks are coalesced (a batch call's own limit is the caller's). */
const COALESCE_MAX = 1000;

/**
 * Decides whether `cost` units of `key` fit a rule. Exact mode asks Redis every time (one EVALSHA);
 * local-cache mode asks Redis once per share (local-cache.ts). When Redis fails or the breaker is
 * open, the rule's failure policy answers: fail-open admits, fail-closed denies, local-fallback
 * runs the same algorithm in memory. `source` on every decision says which of these answered.
 */
export class RateLimiter {
  readonly #redis: Redis;
  readonly #keys: LimiterKeys;
  readonly #breaker: RedisBreaker;
  readonly #fallback: LocalFallback;
  readonly #cache: LocalCache;
  readonly #metrics: RateLimitMetrics | undefined;
  readonly #logger: RateLimiterOptions['logger'];
  #rules = new Map<string, Rule>();
  #queued: QueuedCheck[] = [];
  /** Coalesced script runs sent and not yet answered. */
  #inFlight = 0;
  /** Checks in the last coalesced run: 1 while checks arrive alone, more under a burst. */
  #lastRun = 1;

  constructor(options: RateLimiterOptions) {
    this.#redis = options.redis;
    this.#keys = typeof options.keys === 'object' ? options.keys : limiterKeys(options.keys ?? 'rl:');
    this.#metrics = options.registry ? rateLimitMetrics(options.registry) : undefined;
    this.#logger = options.logger;
    this.#breaker = new RedisBreaker(
      options.breaker,
      (state) => this.#onBreakerState(state),
      () => this.#metrics?.redisErrors.inc({ reason: 'late-answer' }),
    );
    this.#metrics?.breakerState.set(0);
    this.#fallback = new LocalFallback(options.maxLocalKeys);
    this.#cache = new LocalCache({
      commit: (rule, subject, units) => this.#redisOutcome(rule, subject, units, true),
      ...(options.maxLocalKeys ? { maxKeys: options.maxLocalKeys } : {}),
    });
    this.setRules(options.rules);
  }

  /** Replaces the rules (a reload). Redis state carries over for rules whose algorithm is unchanged. */
  setRules(rules: readonly Rule[]): void {
    this.#rules = new Map(rules.map((rule) => [rule.name, rule]));
  }

  get rules(): Rule[] {
    return [...this.#rules.values()];
  }

  rule(name: string): Rule | undefined {
    return this.#rules.get(name);
  }

  get breakerState(): BreakerState {
    return this.#breaker.state;
  }

  /**
   * One decision. An exact-mode check goes to Redis at once when it arrives alone: no coalesced
   * call in flight and the last one a lone check too (at a low rate waiting for the turn's end would
   * only add a loop phase to it); otherwise the checks made during this turn are gathered and sent
   * together at its end (setImmediate) as one batch script run (scripts/batch.ts):
   * one command, one breaker call and one timer for all of them instead of one each. Each is still
   * decided by its algorithm's own script code, in order, atomically, on Redis's clock, so a
   * coalesced decision is exactly what a lone one would have been.
   */
  check(key: string, ruleName: string, cost = 1): Promise<Decision> {
    return new Promise<Decision>((resolve, reject) => {
      this.decide(key, ruleName, cost, (error, decision) => (error ? reject(error) : resolve(decision!)));
    });
  }

  /**
   * check() for hot paths: the decision goes to a callback, with no promise of its own. A route or
   * hook that answers from the callback saves a promise, its reaction and a microtask turn per
   * request (the plugin's hook and the decision service's route; a profile of the service showed
   * the promise machinery next to the limiter's own work).
   */
  decide(key: string, ruleName: string, cost: number, done: DecisionCallback): void {
    let rule: Rule;
    try {
      rule = this.#ruleFor(ruleName, cost);
    } catch (error) {
      done(error as Error, undefined);
      return;
    }
    if (rule.mode !== 'exact') {
      this.#checkOne(rule, key, cost, true).then(
        (decision) => done(undefined, decision),
        (error: unknown) => done(error as Error, undefined),
      );
      return;
    }
    const queued: QueuedCheck = {
      redisKey: this.#keys.key(rule, key),
      rule,
      cost,
      key,
      started: performance.now(),
      span: trace.getActiveSpan(),
      done,
    };
    const waiting = this.#queued.push(queued);
    // Alone (nothing in flight, and the last run was a lone check too): no reason to wait. Under a
    // burst the first check of a turn would otherwise go alone and the rest in a second command.
    if (this.#inFlight === 0 && this.#lastRun === 1) this.#flushQueued();
    else if (waiting === 1) setImmediate(this.#flushQueued);
  }

  readonly #flushQueued = (): void => {
    const queued = this.#queued;
    // Already sent: a call answered meanwhile let a later check send these at once.
    if (queued.length === 0) return;
    this.#queued = [];
    for (let from = 0; from < queued.length; from += COALESCE_MAX) {
      this.#decideQueued(
        from === 0 && queued.length <= COALESCE_MAX ? queued : queued.slice(from, from + COALESCE_MAX),
      );
    }
  };

  #decideQueued(queued: QueuedCheck[]): void {
    this.#inFlight++;
    this.#lastRun = queued.length;
    this.#breaker.call(
      () => runBatch(this.#redis, queued),
      (error, reply) => {
        this.#inFlight--;
        if (reply) this.#answerQueued(queued, reply);
        else this.#failQueued(queued, error);
      },
    );
  }

  #answerQueued(queued: QueuedCheck[], reply: number[]): void {
    // Every check of the batch was decided by the same call: one clock read for all of them.
    const finished = performance.now();
    // Counted once per batch and label set: prom-client hashes the labels on every inc().
    const tally: Tally[] = [];
    for (let n = 0; n < queued.length; n++) {
      const q = queued[n]!;
      const outcome = batchOutcome(reply, n, q.rule, q.cost);
      if (outcome instanceof Error) {
        answer(q.done, outcome, undefined);
        continue;
      }
      addToTally(tally, q.rule.name, outcome.allowed, 'redis');
      answer(
        q.done,
        undefined,
        this.#decided(q.rule, q.cost, outcome, 'redis', q.started, q.span, finished, false),
      );
    }
    for (const { rule, allowed, source, n } of tally) this.#metrics?.countDecisions(rule, allowed, source, n);
  }

  #failQueued(queued: QueuedCheck[], error: unknown): void {
    for (const q of queued) {
      let decision: Decision;
      try {
        const { outcome, source } = this.#onRedisFailure(q.rule, q.key, q.cost, error);
        decision = this.#decided(q.rule, q.cost, outcome, source, q.started, q.span, performance.now());
      } catch (refused) {
        answer(q.done, refused as Error, undefined);
        continue;
      }
      answer(q.done, undefined, decision);
    }
  }

  async #checkOne(rule: Rule, key: string, cost: number, annotateSpan: boolean): Promise<Decision> {
    const started = performance.now();
    const span = annotateSpan ? trace.getActiveSpan() : undefined;
    let outcome: Outcome;
    let source: DecisionSource;
    try {
      if (rule.mode === 'local-cache') {
        outcome = await this.#cache.take(rule, key, cost);
        source = 'local-cache';
      } else {
        outcome = await this.#redisOutcome(rule, key, cost, false);
        source = 'redis';
      }
    } catch (error) {
      ({ outcome, source } = this.#onRedisFailure(rule, key, cost, error));
    }
    return this.#decided(rule, cost, outcome, source, started, span, performance.now());
  }

  /**
   * Many checks in one Redis round trip and one script run: the exact-mode ones go into a single
   * batch script call (scripts/batch.ts), the local-cache ones through their cache. Results are in
   * request order. Metrics are counted once per batch and label set, not once per decision.
   */
  async checkMany(requests: readonly CheckRequest[]): Promise<Decision[]> {
    const count = requests.length;
    const rules = new Array<Rule>(count);
    for (let i = 0; i < count; i++) rules[i] = this.#ruleFor(requests[i]!.rule, requests[i]!.cost ?? 1);
    const started = performance.now();
    const results = new Array<Decision>(count);
    // Per decision the loops below build only its Decision: no iterator entries, no spread
    // copies, no label string (a batch of 100 is 100 of each otherwise; the batch path's profile).
    const exact: number[] = [];
    const checks: BatchCheck[] = [];
    const cached: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const rule = rules[i]!;
      const { key, cost = 1 } = requests[i]!;
      if (rule.mode === 'exact') {
        exact.push(i);
        checks.push({ redisKey: this.#keys.key(rule, key), rule, cost });
      } else
        cached.push(
          this.#checkOne(rule, key, cost, false).then((d) => {
            results[i] = d;
          }),
        );
    }
    if (exact.length) {
      let reply: number[] | undefined;
      let failure: unknown;
      try {
        reply = await this.#breaker.execute(() => runBatch(this.#redis, checks));
      } catch (error) {
        failure = error;
      }
      const tally: Tally[] = [];
      for (let n = 0; n < exact.length; n++) {
        const i = exact[n]!;
        const { rule, cost } = checks[n]!;
        let outcome: Outcome;
        let source: DecisionSource = 'redis';
        if (!reply) ({ outcome, source } = this.#onRedisFailure(rule, requests[i]!.key, cost, failure));
        else {
          const read = batchOutcome(reply, n, rule, cost);
          if (read instanceof Error) throw read;
          outcome = read;
        }
        results[i] = decisionOf(rule, outcome, source);
        addToTally(tally, rule.name, outcome.allowed, source);
      }
      const seconds = (performance.now() - started) / 1000;
      const sources: DecisionSource[] = [];
      for (const { rule, allowed, source, n } of tally) {
        this.#metrics?.countDecisions(rule, allowed, source, n);
        if (!sources.includes(source)) sources.push(source);
      }
      // One observation per batch and source: every decision of the batch took the same call.
      for (const source of sources) this.#observeDuration(source, seconds);
    }
    await Promise.all(cached);
    return results;
  }

  /** Commits what the local cache admitted; call on shutdown, before Redis is closed. */
  async close(): Promise<void> {
    await this.#cache.close();
  }

  #ruleFor(name: string, cost: number): Rule {
    const rule = this.#rules.get(name);
    if (!rule) throw new RateLimitErrors.UnknownRule(name);
    const { limit } = quotaOf(rule);
    // Checked here, not only in the script: a request that can never pass should not cost a round trip.
    if (cost > limit) throw new RateLimitErrors.CostExceedsLimit(cost, rule.name, limit);
    return rule;
  }

  async #redisOutcome(rule: Rule, key: string, cost: number, force: boolean): Promise<Outcome> {
    const reply = await this.#breaker.execute(() => this.#sendScript(rule, key, cost, force));
    return toOutcome(reply, rule, cost);
  }

  #sendScript(rule: Rule, key: string, cost: number, force: boolean): Promise<ScriptReply> {
    const redisKey = this.#keys.key(rule, key);
    const [limit, rateOrWindow] = ruleValues(rule);
    // Only the log needs a unique id (its members); the others ignore it, so don't pay for randomness.
    const id = rule.algorithm === 'sliding-window-log' ? randomBytes(9).toString('base64url') : '-';
    return runScript(
      this.#redis,
      SCRIPT_FOR[rule.algorithm],
      redisKey,
      limit,
      rateOrWindow,
      cost,
      force ? 1 : 0,
      id,
    );
  }

  #onRedisFailure(
    rule: Rule,
    key: string,
    cost: number,
    error: unknown,
  ): { outcome: Outcome; source: DecisionSource } {
    const reason = failureReason(error);
    // A script's own refusal is not an outage: surface it.
    if (reason === 'error' && isCodedError(error)) throw error;
    this.#metrics?.redisErrors.inc({ reason });
    const { limit } = quotaOf(rule);
    switch (rule.failurePolicy) {
      case 'fail-open':
        // Headers stay meaningful-looking but nominal: nobody knows the true count right now.
        return {
          source: 'fail-open',
          outcome: { allowed: true, remaining: limit - cost, resetMs: 0, retryAfterMs: 0 },
        };
      case 'fail-closed':
        // Redis will be tried again when the breaker half-opens; telling clients sooner only adds load.
        return {
          source: 'fail-closed',
          outcome: {
            allowed: false,
            remaining: 0,
            resetMs: this.#breaker.options.halfOpenAfterMs,
            retryAfterMs: this.#breaker.options.halfOpenAfterMs,
          },
        };
      case 'local-fallback':
        return { source: 'local-fallback', outcome: this.#fallback.take(rule, key, cost, Date.now()) };
    }
  }

  /** Records a decision in the metrics and, for a single check, on the request's span. */
  #decided(
    rule: Rule,
    cost: number,
    outcome: Outcome,
    source: DecisionSource,
    started: number,
    span: Span | undefined,
    finished: number,
    /** False when the caller counts the decision itself (a coalesced batch, per label set). */
    count = true,
  ): Decision {
    if (count) this.#metrics?.countDecisions(rule.name, outcome.allowed, source, 1);
    this.#observeDuration(source, (finished - started) / 1000);
    // A batch has many decisions and one span: its attributes would only show whichever came last.
    span?.setAttributes({
      [RateLimitAttributes.RULE]: rule.name,
      [RateLimitAttributes.ALLOWED]: outcome.allowed,
      [RateLimitAttributes.SOURCE]: source,
      [RateLimitAttributes.REMAINING]: outcome.remaining,
      [RateLimitAttributes.COST]: cost,
    });
    return decisionOf(rule, outcome, source);
  }

  #observeDuration(source: DecisionSource, seconds: number): void {
    this.#metrics?.checkDuration.observe(source, seconds);
  }

  #onBreakerState(state: BreakerState): void {
    this.#metrics?.breakerState.set(state === 'closed' ? 0 : state === 'half-open' ? 1 : 2);
    if (state === 'open')
      this.#logger?.warn(
        { breaker: state },
        'rate-limit: Redis failing, breaker open; failure policies apply',
      );
    else this.#logger?.info({ breaker: state }, `rate-limit: breaker ${state}`);
    // Back on Redis: the in-memory counts of the outage must not shadow the shared ones next time.
    if (state === 'closed') this.#fallback.clear();
  }
}

/** Decisions of one batch by rule, outcome and source (a batch holds a handful of label sets). */
interface Tally {
  rule: string;
  allowed: boolean;
  source: DecisionSource;
  n: number;
}

function addToTally(tally: Tally[], rule: string, allowed: boolean, source: DecisionSource): void {
  for (let i = 0; i < tally.length; i++) {
    const entry = tally[i]!;
    if (entry.rule === rule && entry.allowed === allowed && entry.source === source) {
      entry.n++;
      return;
    }
  }
  tally.push({ rule, allowed, source, n: 1 });
}

/**
 * Check `n`'s outcome from a batch script's flat reply (four numbers a check), or its coded error
 * when the script refused it. Fields are copied one by one: no array or spread per decision.
 */
function batchOutcome(reply: number[], n: number, rule: Rule, cost: number): Outcome | Error {
  const allowed = reply[n * 4]!;
  if (allowed < 0) return scriptError(allowed, rule.algorithm, rule, cost);
  return {
    allowed: allowed === 1,
    remaining: reply[n * 4 + 1]!,
    resetMs: reply[n * 4 + 2]!,
    retryAfterMs: reply[n * 4 + 3]!,
  };
}

/** A decision: the outcome with the rule's quota, name and where it came from. */
function decisionOf(rule: Rule, outcome: Outcome, source: DecisionSource): Decision {
  const { limit, windowMs } = quotaOf(rule);
  return {
    allowed: outcome.allowed,
    remaining: outcome.remaining,
    resetMs: outcome.resetMs,
    retryAfterMs: outcome.retryAfterMs,
    limit,
    windowMs,
    policy: rule.name,
    source,
  };
}

/** Hands a decision to its callback; one that throws must not keep the rest of its batch waiting. */
function answer(done: DecisionCallback, error: Error | undefined, decision: Decision | undefined): void {
  try {
    done(error, decision);
  } catch (thrown) {
    queueMicrotask(() => {
      throw thrown;
    });
  }
}

function toOutcome(reply: ScriptReply, rule: Rule, cost: number): Outcome {
  if (typeof reply === 'number') throw scriptError(reply, rule.algorithm, rule, cost);
  const [allowed, remaining, resetMs, retryAfterMs] = reply;
  return { allowed: allowed === 1, remaining, resetMs, retryAfterMs };
}

function isCodedError(error: unknown): boolean {
  return (
    typeof (error as { code?: unknown })?.code === 'string' &&
    (error as { code: string }).code.startsWith('SDLAB_')
  );
}
