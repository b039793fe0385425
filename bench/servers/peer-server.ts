/**
 * The PeerJS server (`peer`) as its own process for bench/peerjs.bench.ts, with the options that
 * benchmark used in its own process before: the same treatment as our registry
 * (registry-server.ts), so neither system's signaling waits on Playwright's event loop. Prints
 * "listening <port>" when ready.
 */
import type { AddressInfo } from 'node:net';
import { PeerServer } from 'peer';
import { serveRequests } from './ipc';

const app = PeerServer({ host: '127.0.0.1', port: 0, path: '/', key: 'peerjs', concurrent_limit: 100_000 }, (server) => {
  serveRequests({});
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
app.on('error', () => undefined);
