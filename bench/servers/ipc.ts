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
  const all: Handlers = {
    ...handlers,
    'monitor-start': () => {
      // A new histogram each time: nothing of the time between two windows counts as delay.
      loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      cpuAtStart = process.cpuUsage();
    },
    'monitor-stop': () => {
      loopDelay.disable();
      const cpu = process.cpuUsage(cpuAtStart);
      return { loopMaxMs: loopDelay.max / 1e6, loopP99Ms: loopDelay.percentile(99) / 1e6, cpuMs: (cpu.user + cpu.system) / 1000 };
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
