/** Where a decision came from; also a metric label and the `X-RateLimit-Source` header. */
export type DecisionSource = 'redis' | 'local-cache' | 'local-fallback' | 'fail-open' | 'fail-closed';

/** What an algorithm answers for one request. Times are milliseconds from now. */
export interface Outcome {
  allowed: boolean;
  /** Units left after this request. */
  remaining: number;
  /** Until the quota is fully available again (the RateLimit header's `t`). */
  resetMs: number;
  /** Until a request of this cost would be admitted; 0 when it was. */
  retryAfterMs: number;
}

export interface Decision extends Outcome {
  /** The rule's quota: its limit, or a bucket's capacity. */
  limit: number;
  /** The rule's window (a bucket: the time to refill from empty); the policy header's `w`. */
  windowMs: number;
  /** The rule's name, which is the policy name in the RateLimit headers. */
  policy: string;
  source: DecisionSource;
}
