/**
 * The child side of a benchmark server process (bench/server-process.ts): answers the parent's
 * requests over IPC, and measures what the parent asks about its own process — how late its event
 * loop ran and how much CPU it used between `monitor-start` and `monitor-stop`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface ServerRequest {
  id: number;
  cmd: string;
  [key: string]: unknown;
}

export type Handlers = Record<string, (request: ServerRequest) => unknown>;

/** Answers `{ id, cmd, ... }` with `{ id, result }` or `{ id, error }`; adds the monitor commands. */
export function serveRequests(handlers: Handlers): void {
  let loopDelay = monitorEventLoopDelay({ resolution: 10 });
  let cpuAtStart = process.cpuUsage();
  // The worst gap between two 10 ms ticks and when it ended (wall clock), to place a stall in the
  // round's timeline; the window in CLOCK_MONOTONIC ms, to find it in a scheduler trace (perf -k mono).
  let worst = { gapMs: 0, endedAt: 0 };
  let tick: NodeJS.Timeout | undefined;
  let windowStart = 0;
  const all: Handlers = {
    ...handlers,
    'monitor-start': () => {
      // A new histogram each time: nothing of the time between two windows counts as delay.
      loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      cpuAtStart = process.cpuUsage();
      worst = { gapMs: 0, endedAt: 0 };
      windowStart = performance.now();
      let last = windowStart;
      clearInterval(tick);
      tick = setInterval(() => {
        const now = performance.now();
        if (now - last > worst.gapMs) worst = { gapMs: now - last, endedAt: performance.timeOrigin + now };
        last = now;
      }, 10);
    },
    'monitor-stop': () => {
      loopDelay.disable();
      clearInterval(tick);
      const cpu = process.cpuUsage(cpuAtStart);
      const mono = Number(process.hrtime.bigint() / 1_000_000n);
      return { loopMaxMs: loopDelay.max / 1e6, loopP99Ms: loopDelay.percentile(99) / 1e6, cpuMs: (cpu.user + cpu.system) / 1000, worstGapMs: worst.gapMs, worstEndedAt: worst.endedAt, monoWindow: [mono - (performance.now() - windowStart), mono] };
    },
  };
  process.on('message', (request: ServerRequest) => {
    const handler = all[request.cmd];
    if (!handler) return process.send!({ id: request.id, error: `unknown command ${request.cmd}` });
    Promise.resolve()
      .then(() => handler(request))
      .then(
        (result) => process.send!({ id: request.id, result }),
        (error: Error) => process.send!({ id: request.id, error: error.message }),
      );
  });
  // The parent gone (a crashed benchmark): nothing left to serve.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}
