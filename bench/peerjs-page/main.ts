/**
 * PeerJS baseline page for bench/peerjs.bench.ts: one `Peer` (the `peerjs` client, as a user of
 * PeerJS would write it) on a loopback PeerServer, exposed on `window.pj` for Playwright.
 * Times are epoch ms with sub-ms precision, comparable across pages like the link harness's.
 */
import { MsgPackPeer, Peer, type DataConnection } from 'peerjs';
import { installTrace, mark, takeTrace, traceStats } from '../../tests/support/rtc-trace';
import { openWaiters } from '../../tests/support/open-waiters';

const now = () => performance.timeOrigin + performance.now();

let peer: Peer;
const connections = new Map<string, DataConnection>();
/** connect() call and 'open' times, by connection id (the same id on both sides). */
const connectAt = new Map<string, number>();
const openAt = new Map<string, number>();
const connectionWaiters = openWaiters();
let receivedBytes = 0;
let lastReceiveAt = 0;
let lastHash = '';
let startAt = 0;
/** When the PeerServer said OPEN (the burst's timeline, BENCH_BURST_TIMELINE). */
let openedAt = 0;
/** A transfer sent as many messages: reassembled here (the channel is ordered) and hashed once complete. */
let expected: { bytes: number; buffer: Uint8Array } | undefined;

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function track(connection: DataConnection): void {
  connections.set(connection.connectionId, connection);
  connection.on('open', () => {
    openAt.set(connection.connectionId, now());
    mark('link.open');
    connectionWaiters.opened();
  });
  connection.on('data', (data) => {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : undefined;
    if (!bytes) return;
    lastReceiveAt = now();
    if (expected) {
      expected.buffer.set(bytes, receivedBytes);
      receivedBytes += bytes.byteLength;
      if (receivedBytes >= expected.bytes) void sha256(expected.buffer).then((hash) => (lastHash = hash));
      return;
    }
    receivedBytes += bytes.byteLength;
    void sha256(bytes).then((hash) => (lastHash = hash));
  });
}

const pj = {
  /**
   * Registers with the PeerServer under `id`; resolves once the server said OPEN. `msgpack`: a
   * MsgPackPeer, whose connections are PeerJS's MessagePack stream (both ends must be one).
   */
  start(id: string, port: number, kind: 'default' | 'msgpack' = 'default'): Promise<string> {
    startAt = now();
    return new Promise((resolve, reject) => {
      // No STUN/TURN, like the registry the bench runs ours against: loopback host candidates only.
      const options = { host: '127.0.0.1', port, path: '/', key: 'peerjs', secure: false, config: { iceServers: [] }, debug: 0 as const };
      peer = kind === 'msgpack' ? new MsgPackPeer(id, options) : new Peer(id, options);
      peer.on('open', (opened) => {
        openedAt = now();
        resolve(opened);
      });
      peer.on('error', (error) => reject(new Error(`${error.type}: ${error.message}`)));
      peer.on('connection', track);
    });
  },
  /** `peer.connect(remote)` with the given serialization; returns the connection id. */
  connect(remote: string, serialization = 'binary'): string {
    const startedAt = now();
    mark('start');
    const connection = peer.connect(remote, { serialization, reliable: true });
    connectAt.set(connection.connectionId, startedAt);
    track(connection);
    return connection.connectionId;
  },
  timing: (connectionId: string) => ({ connect: connectAt.get(connectionId), open: openAt.get(connectionId) }),
  /**
   * The burst: registers, then connects to every peer in `others` as soon as the server said OPEN
   * (a PeerJS app knows its peers' ids from elsewhere; the server queues offers to an id that has
   * not registered yet). Resolves when registered.
   */
  async startAndConnect(id: string, port: number, others: string[]): Promise<void> {
    await pj.start(id, port);
    for (const other of others) pj.connect(other, 'binary');
  },
  /** Every connection this peer has (made or accepted): when connect() was called (only on the side that made it) and when it opened here. */
  timings: () => [...connections.values()].map((c) => ({ id: c.connectionId, connect: connectAt.get(c.connectionId), open: openAt.get(c.connectionId) })),
  /** Resolves once `count` connections are open here (tests/support/open-waiters.ts). */
  whenOpen: (count: number): Promise<void> => connectionWaiters.until(() => openAt.size >= count),
  startedAt: () => startAt,
  /** The setup trace (tests/support/rtc-trace.ts, BENCH_SETUP_TRACE): installed before `start`. */
  installTrace,
  takeTrace,
  traceStats,
  registeredAt: () => openedAt,
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
  /**
   * The same bytes as `sendBlob`, sent as `chunk`-byte messages (`connection.send` each): how a
   * PeerJS user sends bulk data with 'raw' (one message must fit the DataChannel's 256 KiB limit)
   * or the MessagePack stream (whose decoder copies a partial message on every 32 KiB piece, so a
   * large message costs time quadratic in its size). The receiver reassembles and hashes them.
   */
  async sendChunked(connectionId: string, bytes: number, chunk: number): Promise<{ hash: string; startedAt: number }> {
    const blob = new Uint8Array(bytes);
    for (let offset = 0; offset < bytes; offset += 65536) crypto.getRandomValues(blob.subarray(offset, Math.min(bytes, offset + 65536)));
    const hash = await sha256(blob);
    const connection = connections.get(connectionId)!;
    const startedAt = now();
    // Each chunk is its own ArrayBuffer (a view would send its whole buffer in 'raw').
    for (let offset = 0; offset < bytes; offset += chunk) void connection.send(blob.slice(offset, Math.min(bytes, offset + chunk)));
    return { hash, startedAt };
  },
  /** Prepares the receiver for a transfer of `bytes` in many messages (see sendChunked). */
  expect(bytes: number): void {
    expected = { bytes, buffer: new Uint8Array(bytes) };
    receivedBytes = 0;
  },
  received: () => ({ bytes: receivedBytes, at: lastReceiveAt, hash: lastHash }),
  destroy(): void {
    peer?.destroy();
  },
};

(window as unknown as { pj: typeof pj }).pj = pj;
export type PeerJsPage = typeof pj;
