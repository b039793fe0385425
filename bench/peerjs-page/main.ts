/**
 * PeerJS baseline page for bench/peerjs.bench.ts: one `Peer` (the `peerjs` client, as a user of
 * PeerJS would write it) on a loopback PeerServer, exposed on `window.pj` for Playwright.
 * Times are epoch ms with sub-ms precision, comparable across pages like the link harness's.
 */
import { Peer, type DataConnection } from 'peerjs';

const now = () => performance.timeOrigin + performance.now();

let peer: Peer;
const connections = new Map<string, DataConnection>();
/** connect() call and 'open' times, by connection id (the same id on both sides). */
const connectAt = new Map<string, number>();
const openAt = new Map<string, number>();
let receivedBytes = 0;
let lastReceiveAt = 0;
let lastHash = '';

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function track(connection: DataConnection): void {
  connections.set(connection.connectionId, connection);
  connection.on('open', () => openAt.set(connection.connectionId, now()));
  connection.on('data', (data) => {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : undefined;
    if (!bytes) return;
    lastReceiveAt = now();
    receivedBytes += bytes.byteLength;
    void sha256(bytes).then((hash) => (lastHash = hash));
  });
}

const pj = {
  /** Registers with the PeerServer under `id`; resolves once the server said OPEN. */
  start(id: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      // No STUN/TURN, like the registry the bench runs ours against: loopback host candidates only.
      peer = new Peer(id, { host: '127.0.0.1', port, path: '/', key: 'peerjs', secure: false, config: { iceServers: [] }, debug: 0 });
      peer.on('open', (opened) => resolve(opened));
      peer.on('error', (error) => reject(new Error(`${error.type}: ${error.message}`)));
      peer.on('connection', track);
    });
  },
  /** `peer.connect(remote)` with the given serialization; returns the connection id. */
  connect(remote: string, serialization = 'binary'): string {
    const startedAt = now();
    const connection = peer.connect(remote, { serialization, reliable: true });
    connectAt.set(connection.connectionId, startedAt);
    track(connection);
    return connection.connectionId;
  },
  timing: (connectionId: string) => ({ connect: connectAt.get(connectionId), open: openAt.get(connectionId) }),
  closeAll(): void {
    for (const connection of connections.values()) connection.close();
    connections.clear();
  },
  /** Sends one random message of `bytes` as a user would (`connection.send(buffer)`): PeerJS chunks it and applies its own flow control. */
  async sendBlob(connectionId: string, bytes: number): Promise<{ hash: string; startedAt: number }> {
    const blob = new Uint8Array(bytes);
    for (let offset = 0; offset < bytes; offset += 65536) crypto.getRandomValues(blob.subarray(offset, Math.min(bytes, offset + 65536)));
    const hash = await sha256(blob);
    const startedAt = now();
    void connections.get(connectionId)!.send(blob.buffer);
    return { hash, startedAt };
  },
  received: () => ({ bytes: receivedBytes, at: lastReceiveAt, hash: lastHash }),
  destroy(): void {
    peer?.destroy();
  },
};

(window as unknown as { pj: typeof pj }).pj = pj;
export type PeerJsPage = typeof pj;
