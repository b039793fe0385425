// The PeerJS server (`peer`, a devDependency for benchmarks only) as its own process for
// bench/capacity.bench.ts, configured as its README shows, with its concurrent-client limit
// (5,000 by default) raised for the benchmark. Prints "listening <port>" when ready.
import { PeerServer } from 'peer';

const app = PeerServer({ host: '127.0.0.1', port: 0, path: '/', key: 'peerjs', concurrent_limit: 1_000_000 }, (server) => {
  process.stdout.write(`listening ${server.address().port}\n`);
  process.on('SIGTERM', () => process.exit(0));
});
app.on('error', () => undefined);
// BENCH_MEMORY: on SIGUSR2, V8's and Node's own memory figures to stderr (the bench prints them).
const reportMemory = (when) => {
  const m = process.memoryUsage();
  process.stderr.write(`memory ${when} ${JSON.stringify({ heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers })}\n`);
};
process.on('SIGUSR2', () => {
  reportMemory('now');
  // Under --expose-gc (looking into a result): what of it was garbage.
  const gc = globalThis.gc;
  if (gc) {
    gc();
    reportMemory('after a full GC');
  }
});
