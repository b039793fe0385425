/**
 * A watchdog for Vitest's worker processes (vitest.config.ts `setupFiles`).
 *
 * Vitest's test timeouts are timers on the worker's own event loop, so a worker whose main thread
 * is blocked (a native call that never returns, such as a libdatachannel close waiting on a thread
 * that waits on JavaScript) never times out, and the whole run waits for it forever: CI then ends
 * at its wall-clock limit with no report. A second thread cannot be blocked that way: it watches a
 * heartbeat the main thread writes, and when the beat stops for `WSP_VITEST_STALL_MS` (default
 * 90 s) it prints which test was running and kills the worker, which Vitest reports as a failed
 * file while the rest of the run goes on.
 */
import { beforeEach } from 'vitest';
import { Worker } from 'node:worker_threads';

const STALL_MS = Number(process.env.WSP_VITEST_STALL_MS ?? 90_000);
const NAME_BYTES = 1024;

// [0]: last heartbeat (ms since epoch); then the running test's name, UTF-8, NUL-padded.
const beat = new Float64Array(new SharedArrayBuffer(8));
const name = new Uint8Array(new SharedArrayBuffer(NAME_BYTES));

function heartbeat(): void {
  beat[0] = Date.now();
}
heartbeat();
setInterval(heartbeat, 500).unref();

beforeEach((context) => {
  const encoded = new TextEncoder().encode(`${context.task.file.name} › ${context.task.name}`).subarray(0, NAME_BYTES);
  name.fill(0);
  name.set(encoded);
});

const watcher = new Worker(
  `
  const { workerData } = require('node:worker_threads');
  const { writeSync } = require('node:fs');
  const { beat, name, stallMs } = workerData;
  setInterval(() => {
    const silent = Date.now() - beat[0];
    if (silent < stallMs) return;
    const end = name.indexOf(0);
    const test = new TextDecoder().decode(name.slice(0, end < 0 ? name.length : end)) || '(between tests)';
    writeSync(2, '\\n[vitest watchdog] the worker running "' + test + '" has been blocked for ' + Math.round(silent / 1000) + ' s (its event loop does not turn, so no test timeout can fire); killing it so the run can finish\\n');
    process.kill(process.pid, 'SIGKILL');
  }, 1000);
  `,
  { eval: true, workerData: { beat, name, stallMs: STALL_MS } },
);
watcher.unref();
