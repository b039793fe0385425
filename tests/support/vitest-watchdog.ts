/**
 * A watchdog for Vitest's worker processes (vitest.config.ts `setupFiles`).
 *
 * Vitest's test timeouts are timers on the worker's own event loop, so a worker whose main thread
 * is blocked (a native call that never returns, such as a libdatachannel close waiting on a thread
 * that waits on JavaScript) never times out, and the whole run waits for it forever: CI then ends
 * at its wall-clock limit with no report. A second thread cannot be blocked that way: it watches a
 * heartbeat the main thread writes, and when the beat stops for `WSP_VITEST_STALL_MS` (default
 * 90 s) it prints which test was running and kills the worker, which Vitest reports as a failed
 * file while the rest of the run goes on. The file's path is also appended to
 * `.test-output/vitest-blocked.txt`, for `npm test` to run that file again once and report it.
 */
import { beforeEach } from 'vitest';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';

const STALL_MS = Number(process.env.WSP_VITEST_STALL_MS ?? 90_000);
const BLOCKED_DIR = join(process.cwd(), '.test-output');
const BLOCKED_FILE = join(BLOCKED_DIR, 'vitest-blocked.txt');
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
  // "<file> › <test>": the file (relative to the project) first, as run-tests.mjs reads it.
  const encoded = new TextEncoder().encode(`${context.task.file.name} › ${context.task.name}`).subarray(0, NAME_BYTES);
  name.fill(0);
  name.set(encoded);
});

const watcher = new Worker(
  `
  const { workerData } = require('node:worker_threads');
  const { appendFileSync, mkdirSync, writeSync } = require('node:fs');
  const { beat, name, stallMs, record } = workerData;
  setInterval(() => {
    const silent = Date.now() - beat[0];
    if (silent < stallMs) return;
    const end = name.indexOf(0);
    const test = new TextDecoder().decode(name.slice(0, end < 0 ? name.length : end)) || '(between tests)';
    writeSync(2, '\\n[vitest watchdog] the worker running "' + test + '" has been blocked for ' + Math.round(silent / 1000) + ' s (its event loop does not turn, so no test timeout can fire); killing it so the run can finish\\n');
    try {
      mkdirSync(record.dir, { recursive: true });
      appendFileSync(record.file, test.split(' › ')[0] + '\\n');
    } catch {}
    process.kill(process.pid, 'SIGKILL');
  }, 1000);
  `,
  { eval: true, workerData: { beat, name, stallMs: STALL_MS, record: { dir: BLOCKED_DIR, file: BLOCKED_FILE } } },
);
// A watchdog that cannot run must say so, not leave the run unguarded in silence.
watcher.on('error', (error) => console.error('[vitest watchdog] not watching:', error));
watcher.unref();
