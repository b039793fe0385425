/**
 * The SignalingClient keeps to the limits its registry gives in `welcome`: signaling is paced to
 * frames_per_second/burst, a RATE_LIMITED refusal makes it wait as the registry does, and a
 * socket that stops answering is given up within heartbeat_ms and replaced. A fake socket and a
 * manual clock; the same against a real registry and a frozen TCP connection:
 * signaling-half-open.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { decodeClientFrame, encodeFrame } from '../../../src-shared/protocol/codec';
import { PROTOCOL_VERSION, type ClientFrame, type ServerFrame } from '../../../src-shared/protocol/signaling';
import { SignalingClient, type SignalingClientOptions } from '../../../src-renderer/engine/signaling-client';
import { readEarlyHello } from '../../../src-shared/protocol/early-hello';
import { ManualClock } from './manual-clock';

const PEER = 'b'.repeat(26);

class FakeSocket {
  readyState = 0;
  binaryType = '';
  sent: ClientFrame[] = [];
  closed = false;
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: ArrayBuffer }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  send(data: Uint8Array) {
    const decoded = decodeClientFrame(data);
    if (!decoded.ok) throw new Error(decoded.message);
    this.sent.push(decoded.frame);
  }
  close() {
    this.closed = true;
  }
  receive(frame: ServerFrame) {
    const bytes = encodeFrame(frame);
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
  }
}

/** A client of the fake registry ('Ada', invite 'invite'); `options` replace the defaults. */
function fakeClient(options: Partial<SignalingClientOptions> = {}): SignalingClient {
  return new SignalingClient({
    url: 'ws://registry.test/ws',
    invite: 'invite',
    displayName: 'Ada',
    signingPublicKey: new Uint8Array(32),
    boxPublicKey: new Uint8Array(32),
    boxKeySignature: new Uint8Array(64),
    signChallenge: async () => new Uint8Array(64),
    clock: new ManualClock(),
    random: () => 0,
    ...options,
  });
}

async function connected(limits = { frames_per_second: 50, burst: 200, heartbeat_ms: 15_000 }) {
  const clock = new ManualClock();
  const sockets: FakeSocket[] = [];
  const client = fakeClient({
    createSocket: () => {
      const socket = new FakeSocket();
      sockets.push(socket);
      return socket as unknown as WebSocket;
    },
    clock,
  });
  // A socket is made once the early hello is signed (a microtask after each attempt starts).
  const opened = async (index: number) => {
    while (!sockets[index]) await new Promise((done) => setTimeout(done, 0));
    return sockets[index];
  };
  const welcome = async (index: number) => {
    const socket = await opened(index);
    socket.readyState = 1;
    socket.receive({ type: 'challenge', protocol: PROTOCOL_VERSION, nonce: new Uint8Array(32) });
    await new Promise((done) => setTimeout(done, 0)); // signChallenge
    socket.receive({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      peer_id: 'a'.repeat(26),
      project_id: 'p',
      peers: [],
      ice_servers: [],
      ice_servers_expire_at: 0,
      limits: { max_frame_bytes: 65536, ...limits },
    });
  };
  client.start();
  await welcome(0);
  expect(client.state.phase).toBe('connected');
  return { clock, sockets, client, welcome, opened, socket: sockets[0]! };
}

const signals = (s: FakeSocket) => s.sent.filter((f) => f.type === 'webrtc_ice_candidate');

describe('SignalingClient pacing', () => {
  it('a burst of signaling beyond the registry’s bucket waits its turn, in order, and says so', async () => {
    const { clock, client, socket } = await connected({ frames_per_second: 50, burst: 20, heartbeat_ms: 15_000 });
    const pacing: number[] = [];
    client.on('pacing', ({ queued }) => pacing.push(queued));
    for (let i = 0; i < 50; i++) expect(client.sendSignal('webrtc_ice_candidate', PEER, new Uint8Array([i]))).toBe(true);
    expect(signals(socket)).toHaveLength(19); // the hello took one token
    expect(client.queuedFrames).toBe(31);
    expect(pacing[0]).toBeGreaterThan(0);
    clock.advance(1000);
    expect(signals(socket).map((f) => (f as { payload: Uint8Array }).payload[0])).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(client.queuedFrames).toBe(0);
    expect(pacing.at(-1)).toBe(0);
  });

  it('relay frames are not held by the signaling bucket (the registry counts them apart)', async () => {
    const { client, socket } = await connected({ frames_per_second: 1, burst: 1, heartbeat_ms: 15_000 });
    for (let i = 0; i < 5; i++) client.sendRelay(PEER, new Uint8Array([i]));
    expect(socket.sent.filter((f) => f.type === 'relay')).toHaveLength(5);
  });

  it('RATE_LIMITED: the next frames wait for the bucket to refill, and the refusal names the link concerned', async () => {
    const { clock, client, socket } = await connected();
    const errors: Array<{ code: string; refType?: string; refPeerId?: string }> = [];
    client.on('error', (e) => errors.push(e));
    socket.receive({ type: 'error', code: 'RATE_LIMITED', message: 'dropped', ref_type: 'webrtc_offer', ref_peer_id: PEER });
    expect(errors).toEqual([expect.objectContaining({ code: 'RATE_LIMITED', refType: 'webrtc_offer', refPeerId: PEER })]);
    client.sendSignal('webrtc_offer', PEER, new Uint8Array([1]));
    expect(socket.sent.filter((f) => f.type === 'webrtc_offer')).toHaveLength(0);
    clock.advance(20);
    expect(socket.sent.filter((f) => f.type === 'webrtc_offer')).toHaveLength(1);
  });
});

describe('SignalingClient keepalive', () => {
  it('a quiet connection pings and stays up while the registry answers', async () => {
    const { clock, client, socket } = await connected();
    for (let i = 0; i < 4; i++) {
      clock.advance(7500);
      expect(socket.sent.at(-1)).toEqual({ type: 'ping' });
      socket.receive({ type: 'pong' });
    }
    expect(client.state.phase).toBe('connected');
    expect(socket.sent.filter((f) => f.type === 'ping')).toHaveLength(4);
  });

  it('a socket that stops answering is given up within heartbeat_ms, shown as reconnecting, and replaced', async () => {
    const { clock, client, sockets, socket, welcome } = await connected();
    const states: string[] = [];
    client.on('state', (s) => states.push(s.phase === 'reconnecting' ? `reconnecting: ${s.reason}` : s.phase));
    clock.advance(14_999);
    expect(client.state.phase).toBe('connected');
    clock.advance(1);
    expect(states).toEqual(['reconnecting: no answer from the registry for 15 s: the connection was dead']);
    expect(socket.closed).toBe(true);
    clock.advance(250); // backoff (no jitter here)
    await welcome(1);
    expect(sockets).toHaveLength(2);
    expect(client.state.phase).toBe('connected');
  });

  it('a registry from before the keepalive (BAD_FRAME for ping) is not asked again, and not given up', async () => {
    const { clock, client, socket } = await connected();
    clock.advance(7500);
    socket.receive({ type: 'error', code: 'BAD_FRAME', message: 'invalid ping', ref_type: 'ping' });
    clock.advance(120_000);
    expect(socket.sent.filter((f) => f.type === 'ping')).toHaveLength(1);
    expect(client.state.phase).toBe('connected');
  });

  it('offers its hello with the upgrade, after the plain wsp subprotocol; stopped while signing it, opens no socket', async () => {
    const offered: string[][] = [];
    let signed!: () => void;
    const client = fakeClient({
      signEarlyHello: () => new Promise((resolve) => (signed = () => resolve(new Uint8Array(64)))),
      createSocket: (_url, protocols) => {
        offered.push(protocols);
        return new FakeSocket() as unknown as WebSocket;
      },
    });
    client.start();
    client.stop();
    signed();
    await new Promise((done) => setTimeout(done, 0));
    expect(offered).toEqual([]);
    client.start();
    signed();
    await new Promise((done) => setTimeout(done, 0));
    expect(offered).toHaveLength(1);
    expect(offered[0]![0]).toBe('wsp');
    const early = readEarlyHello(offered[0]!.join(', '));
    expect(early?.ok && [early.frame.display_name, early.frame.invite]).toEqual(['Ada', 'invite']);
    client.stop();
  });

  it('a connection attempt with no welcome is given up after WELCOME_DEADLINE_MS', async () => {
    const { clock, client, sockets, opened } = await connected();
    const reasons: string[] = [];
    client.on('state', (s) => s.phase === 'reconnecting' && reasons.push(s.reason));
    sockets[0]!.onclose?.({ code: 1006, reason: '' });
    clock.advance(250); // backoff (no jitter here)
    (await opened(1)).readyState = 1; // opened, but nothing ever comes
    expect(sockets).toHaveLength(2);
    clock.advance(14_999);
    expect(sockets[1]!.closed).toBe(false);
    clock.advance(1);
    expect(sockets[1]!.closed).toBe(true);
    expect(reasons.at(-1)).toBe('no welcome from the registry for 15 s: the connection was dead');
    expect(client.state.phase).toBe('reconnecting');
  });
});
