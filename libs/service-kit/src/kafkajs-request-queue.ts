import { createRequire } from 'node:module';

// kafkajs 2.2.4 (its last release) re-arms a timer on every broker connection after each answer,
// forever: its request queue schedules a check of pending requests at `throttledUntil - now`,
// which without throttling is negative, so Node runs it after 1 ms, and the check schedules the
// next one. Measured: ~800 wake-ups and ~20 ms of CPU per second per connection of an idle
// producer (the TimeoutNegativeWarning Node 24 prints is this timer). A service at 2,000 req/s
// paid ~10 µs of CPU per request per connection for it. The fix schedules a check only while a
// request waits, which is all the check is for: a request that cannot be sent at once (throttled
// or too many in flight) is queued and schedules it; an answer checks the queue again.

interface RequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs' own interval for re-checking a queue that is waiting on its in-flight limit. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;
let applied: boolean | undefined;

/**
 * Replaces kafkajs' RequestQueue#scheduleCheckPendingRequests (once per process). Returns whether
 * the fix is in place: false when this kafkajs has no such method (another version), which is
 * left as it is.
 */
export function stopIdleRequestQueueTimers(): boolean {
  if (applied !== undefined) return applied;
  const require = createRequire(import.meta.url);
  let prototype: RequestQueue | undefined;
  try {
    prototype = (require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueue })
      .prototype;
  } catch {
    prototype = undefined;
  }
  applied = typeof prototype?.scheduleCheckPendingRequests === 'function';
  if (!applied || !prototype) return false;
  prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueue) {
    if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
    const throttledFor = this.throttledUntil - Date.now();
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL_MS,
    );
  };
  return true;
}
