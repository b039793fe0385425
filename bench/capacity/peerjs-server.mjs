// The PeerJS server (`peer`, a devDependency for benchmarks only) as its own process for
// bench/capacity.bench.ts, configured as its README shows, with its concurrent-client limit
// (5,000 by default) raised for the benchmark. Prints "listening <port>" when ready.
import { PeerServer } from 'peer';

const app = PeerServer({ host: '127.0.0.1', port: 0, path: '/', key: 'peerjs', concurrent_limit: 1_000_000 }, (server) => {
  process.stdout.write(`listening ${server.address().port}\n`);
  process.on('SIGTERM', () => process.exit(0));
});
app.on('error', () => undefined);
