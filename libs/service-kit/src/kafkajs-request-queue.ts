import { createRequire } from 'node:module';

// kafkajs 2.2.4 (its last release) re-arms a timer on every broker connection after each answer,
// forever: its request queue schedules a check of pending requests at `throttledUntil - now`,
// which without throttling is negative, so Node runs it after 1 ms, and the check schedules the
// next one. Measured: ~800 wake-ups and ~20 ms of CPU per second per connection of an idle
// producer (the TimeoutNegativeWarning Node 24 prints is this timer). A service at 2,000 req/s
// paid ~10 µs of CPU per request per connection for it. The fix schedules a check only while a
// request waits, which is all the check is for: a request that cannot be sent at once (throttled
// or too many in flight) is queued and schedules it; an answer checks the queue again.
//
// Each connection also runs a request-timeout check every 100 ms from connect to disconnect, in
// flight or not: an idle API with a producer woke up 30 times a second, 20 of them for the two
// producer connections' checks (strace), and spent 2.5 ms of CPU per idle second. The check now
// runs while a request is in flight, and stops at its first tick with none.

interface InflightRequest {
  sentAt: number;
  requestTimeout: number;
  timeoutRequest(): void;
}

interface RequestQueue {
  pending: unknown[];
  inflight: Map<number, InflightRequest>;
  enforceRequestTimeout: boolean;
  requestTimeout: number;
  requestTimeoutIntervalId: ReturnType<typeof setInterval> | null | undefined;
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  isConnected(): boolean;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
  scheduleRequestTimeoutCheck(): void;
  sendSocketRequest(request: unknown): void;
  destroy(): void;
}

/** kafkajs' own interval for re-checking a queue that is waiting on its in-flight limit. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;
let applied: boolean | undefined;

/**
 * Replaces kafkajs' RequestQueue#scheduleCheckPendingRequests and its request-timeout check (once
 * per process). Returns whether the fix is in place: false when this kafkajs lacks one of those
 * methods (another version), which is left as it is.
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
  applied =
    typeof prototype?.scheduleCheckPendingRequests === 'function' &&
    typeof prototype.scheduleRequestTimeoutCheck === 'function' &&
    typeof prototype.sendSocketRequest === 'function' &&
    typeof prototype.destroy === 'function';
  if (!applied || !prototype) return false;
  const { sendSocketRequest, destroy } = prototype;
  // kafkajs calls this on connect, where it started its interval; now the first request in flight does.
  prototype.scheduleRequestTimeoutCheck = function scheduleRequestTimeoutCheck(this: RequestQueue) {
    this.destroy();
  };
  prototype.sendSocketRequest = function (this: RequestQueue, request: unknown) {
    sendSocketRequest.call(this, request);
    if (this.enforceRequestTimeout && this.inflight.size > 0 && !this.requestTimeoutIntervalId)
      checkRequestTimeouts(this);
  };
  prototype.destroy = function (this: RequestQueue) {
    destroy.call(this);
    this.requestTimeoutIntervalId = null;
  };
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

/** kafkajs' own request-timeout check, as often as it runs it, but only until nothing is in flight. */
function checkRequestTimeouts(queue: RequestQueue): void {
  queue.requestTimeoutIntervalId = setInterval(
    () => {
      const now = Date.now();
      for (const request of queue.inflight.values()) {
        if (now - request.sentAt > request.requestTimeout) request.timeoutRequest();
      }
      if (!queue.isConnected()) queue.destroy();
      else if (queue.inflight.size === 0) {
        clearInterval(queue.requestTimeoutIntervalId ?? undefined);
        queue.requestTimeoutIntervalId = null;
      }
    },
    Math.min(queue.requestTimeout, 100),
  );
}
