/**
 * Our registry as its own process for bench/peerjs.bench.ts, with the options that benchmark used
 * in its own process before (the web console harness page served from BENCH_WEB_ROOT, up to 1,000
 * consoles per project, other limits at their defaults): in the product the registry never shares
 * a process with a test driver, and Playwright driving two dozen pages kept the bench process's
 * event loop late by up to 1.5 s in a burst (docs/BENCHMARKS.md). Prints "listening <port>" when
 * ready; answers `invite` (a link for a project) and, for BENCH_BURST_TIMELINE, `log-start` /
 * `log-take` (its log lines: when connections opened and consoles joined) over IPC.
 */
import pino from 'pino';
import { createRegistry } from '../../src-main/registry/registry';
import { serveRequests } from './ipc';

const webRoot = process.env.BENCH_WEB_ROOT;
if (!webRoot) throw new Error('BENCH_WEB_ROOT: the folder of the page to serve');
let log: Array<{ time: number; msg: string }> | undefined;
const registry = await createRegistry({
  host: '127.0.0.1',
  port: 0,
  webRoot,
  logger: process.env.BENCH_REGISTRY_LOG === '1' ? pino({ level: 'info' }, { write: (line: string) => void log?.push(JSON.parse(line) as { time: number; msg: string }) }) : pino({ level: 'silent' }),
  limits: { maxPeersPerProject: 1000 },
});
serveRequests({
  invite: async ({ project }) => (await registry.createInvite({ project: String(project), ttlMs: 3_600_000 })).link,
  'log-start': () => void (log = []),
  'log-take': () => {
    const taken = log ?? [];
    log = undefined;
    return taken;
  },
});
process.stdout.write(`listening ${registry.port}\n`);
