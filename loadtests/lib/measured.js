// Where the measured traffic starts. setup() makes requests the scenario is not about (1,000 link
// creates at 2-3 ms of service CPU each, events with 50,000 seats), inside k6's run: the runner
// starts its CPU account at setupDone()'s line and leaves setup's requests out of the counts.

/** The line the runner waits for on k6's output (loadtests/src/k6.ts). */
export const SETUP_DONE = 'sdlab:setup-done';

/** Call last in setup(). */
export function setupDone() {
  console.log(SETUP_DONE);
}

/**
 * Spread into options.thresholds: exports the count of setup's requests in the summary (k6 tags
 * them group "::setup"), which the runner subtracts. `count>=0` always holds.
 */
export const setupRequestCount = { 'http_reqs{group:::setup}': ['count>=0'] };
