/**
 * Our registry as its own process for bench/capacity.bench.ts (bundled by it with Vite, run with
 * node), so that the load generator's sockets and CPU are not in the measured process and its
 * VmRSS is the registry's own. The invite secret comes from the parent (hex in BENCH_SECRET) so the
 * load generator can issue invites; limits that would refuse a benchmark's load are raised here
 * through options, the defaults are untouched. Prints "listening <port>" when ready.
 */
import pino from 'pino';
import { createRegistry } from '../../src-main/registry/registry';

const secret = Uint8Array.from(Buffer.from(process.env.BENCH_SECRET ?? '', 'hex'));
if (secret.length !== 32) throw new Error('BENCH_SECRET: 32 bytes in hex');
const registry = await createRegistry({
  host: '127.0.0.1',
  port: 0,
  inviteSecret: secret,
  logger: pino({ level: 'warn' }),
  limits: {
    // The load generator floods on purpose, and 10,000 consoles may wait a while for their turn.
    framesPerSecond: 1e6,
    burst: 1e6,
    floodTolerance: 1e9,
    authTimeoutMs: 120_000,
    maxUnauthenticated: 1e6,
    maxUnauthenticatedPerAddress: 1e6,
  },
});
process.stdout.write(`listening ${registry.port}\n`);
process.on('SIGTERM', () => void registry.close().then(() => process.exit(0)));
// BENCH_MEMORY: on SIGUSR2, V8's and Node's own memory figures to stderr (the bench prints them).
const reportMemory = (when: string) => {
  const m = process.memoryUsage();
  process.stderr.write(`memory ${when} ${JSON.stringify({ heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers })}\n`);
};
process.on('SIGUSR2', () => {
  reportMemory('now');
  // Under --expose-gc (looking into a result): what of it was garbage.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    reportMemory('after a full GC');
  }
});
