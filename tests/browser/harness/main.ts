/**
 * Test harness page: runs the console's real engine in a browser without the GUI, and exposes a
 * small API on `window.harness` for Playwright (or puppeteer-core, for Firefox) to drive it.
 */
import { createIdentity, ed25519Sign, signedMessage, type SecretIdentity } from '../../../src-shared/identity';
import { parseInvite } from '../../../src-shared/invite';
import type { SignalingClient } from '../../../src-renderer/engine/signaling-client';
import type { LinkManager } from '../../../src-renderer/engine/link-manager';
import { createConsoleSession } from '../../../src-renderer/engine/console-session';
import type { LinkConfig, LinkSnapshot } from '../../../src-renderer/engine/link/peer-link';
import { missingBrowserFeatures } from '../../../src-renderer/engine/browser-support';
import './workstream'; // window.wsHarness
import { testChannel, TEST_MESSAGE } from '../../support/link-bus';
import { installTrace, mark, takeTrace, traceStats } from '../../support/rtc-trace';
import { openWaiters } from '../../support/open-waiters';

// The console's own startup check: a driver refuses a browser that fails it, with its message.
(window as unknown as { browserSupport: { missing: string[] } }).browserSupport = { missing: missingBrowserFeatures() };

interface Received {
  count: number;
  /** Sequence numbers of `{ seq }` messages, in arrival order. */
  seqs: number[];
  /** SHA-256 (hex) of `{ blob }` messages. */
  blobs: string[];
}

let identity: SecretIdentity;
/** An identity made ahead (`makeIdentity`), taken by the next join: as the app loads its stored one. */
let identityAhead: SecretIdentity | undefined;
let client: SignalingClient;
let manager: LinkManager;
const firstOfferAt = new Map<string, number>();
/** When this console first learned of a peer (its welcome's member list, or peer_joined): the
 * moment the engine starts a link, comparable to a PeerJS user's `peer.connect()` (bench/peerjs.bench.ts). */
const knownAt = new Map<string, number>();
const openedAt = new Map<string, number>();
const linkWaiters = openWaiters();
/** When `join` was called (epoch ms): the start of a burst's mesh time (bench/peerjs.bench.ts). */
let joinCalledAt = 0;
/**
 * This console's way into the project (epoch ms): identity and session made, socket open,
 * challenge in, hello out, welcome in. Read with `timings` to see where a burst's time goes
 * before its links (bench/peerjs.bench.ts, BENCH_BURST_TIMELINE).
 */
const joinSteps: Partial<Record<'identity' | 'session' | 'socketOpen' | 'challenge' | 'hello' | 'welcome', number>> = {};
/** When the first signaling frame from a peer arrived (its offer, or our offer's answer). */
const firstSignalAt = new Map<string, number>();
/** Signaling messages this console sent, by type (bench/peerjs.bench.ts, BENCH_BURST_PROFILE). */
const signalsOut: Record<string, number> = {};
const preciseNow = () => performance.timeOrigin + performance.now();
const received = new Map<string, Received>();
const errors: Array<{ peerId: string; code: string; message: string }> = [];
let maxBuffered = 0;

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const harness = {
  /** `prepareConnections: false`: no connection made ahead on either side (the cold setup benchmark). */
  async join(link: string, name: string, config: Partial<LinkConfig> = {}, mode: 'engine' | 'raw' = 'engine', options: { prepareConnections?: boolean } = {}): Promise<string> {
    joinCalledAt = preciseNow();
    identity = identityAhead ?? (await createIdentity());
    identityAhead = undefined;
    joinSteps.identity = preciseNow();
    const invite = parseInvite(link);
    const started = await createConsoleSession({
      invite,
      displayName: name,
      identity,
      signChallenge: async (nonce) => {
        joinSteps.challenge ??= preciseNow();
        const signature = await ed25519Sign(identity.signingSecretKey, signedMessage('registryAuth', nonce));
        joinSteps.hello ??= preciseNow();
        return signature;
      },
      signEarlyHello: async (payload) => {
        joinSteps.challenge ??= preciseNow(); // no challenge: the early hello's signing starts here
        const signature = await ed25519Sign(identity.signingSecretKey, signedMessage('registryHello', payload));
        joinSteps.hello ??= preciseNow();
        return signature;
      },
      certifySession: (body) => ed25519Sign(identity.signingSecretKey, signedMessage('sessionKey', body)),
      createSocket: (url, protocols) => {
        const socket = new WebSocket(url, protocols);
        socket.addEventListener('open', () => (joinSteps.socketOpen ??= preciseNow()));
        return socket;
      },
      linkConfig: config,
      backoff: { baseMs: 200, maxMs: 1000 },
      ...(options.prepareConnections === false ? { prepareConnections: false } : {}),
    });
    joinSteps.session = preciseNow();
    client = started.client;
    const sendSignal = client.sendSignal.bind(client);
    client.sendSignal = (type, to, payload) => {
      if (type === 'webrtc_offer' && !firstOfferAt.has(to)) firstOfferAt.set(to, preciseNow());
      signalsOut[type] = (signalsOut[type] ?? 0) + 1;
      mark(`sig.out.${type}`);
      return sendSignal(type, to, payload);
    };
    // "Known" is when the client hands the news on, before any listener runs: the link manager
    // subscribed first, and what its listener does at once (it begins the link's connection) is
    // part of the setup, as PeerJS's connect() is on its side.
    const emitter = client as unknown as { emit(event: string, value: unknown): void };
    const emit = emitter.emit.bind(client);
    emitter.emit = (event, value) => {
      const peers = event === 'welcome' ? (value as { peers: Array<{ peer_id: string }> }).peers : event === 'peer_joined' ? [value as { peer_id: string }] : [];
      const at = preciseNow();
      for (const peer of peers) if (!knownAt.has(peer.peer_id)) knownAt.set(peer.peer_id, at);
      if (peers.length) mark('start');
      if (event === 'signal') mark(`sig.in.${(value as { type: string }).type}`);
      emit(event, value);
    };
    client.on('signal', (frame) => {
      if (!firstSignalAt.has(frame.from_peer_id)) firstSignalAt.set(frame.from_peer_id, preciseNow());
    });
    client.on('welcome', () => {
      joinSteps.welcome ??= preciseNow();
    });
    if (mode === 'raw') {
      started.links.close(); // the baseline: no engine links, just the registry connection
      raw.attach(client);
    } else {
      manager = started.links;
      testChannel(manager, (peerId, message) => void record(peerId, message));
      manager.on('error', (error) => errors.push(error));
      manager.on('open', ({ peerId }) => {
        openedAt.set(peerId, preciseNow());
        mark('link.open');
        linkWaiters.opened();
      });
      manager.on('untrusted', ({ peerId, reason }) => errors.push({ peerId, code: 'IDENTITY_INVALID', message: reason }));
    }
    client.start();
    return identity.peerId;
  },

  /**
   * Makes the identity the next `join` uses, before it is called: a returning console's identity
   * is stored, not made when it joins (bench/peerjs.bench.ts's burst). Its peer id.
   */
  async makeIdentity(): Promise<string> {
    identityAhead = await createIdentity();
    return identityAhead.peerId;
  },

  /** Setup timing: when this console first offered to `peerId`, and when its link opened (epoch ms, sub-ms precision). */
  /** The setup trace (tests/support/rtc-trace.ts, BENCH_SETUP_TRACE): installed before `join`. */
  installTrace,
  takeTrace,
  traceStats,
  timing: (peerId: string) => ({ known: knownAt.get(peerId), offer: firstOfferAt.get(peerId), open: openedAt.get(peerId) ?? raw.openedAt.get(peerId) }),
  /**
   * Every link's setup timing at once, by peer id, and when `join` was called (for a mesh of many
   * consoles); `steps`: this console's way into the project; per link also its first offer sent
   * and first signal received.
   */
  timings: () => ({
    joinCalledAt,
    steps: { ...joinSteps },
    links: Object.fromEntries(
      [...knownAt.keys()].map((peerId) => [peerId, { known: knownAt.get(peerId), offer: firstOfferAt.get(peerId), signal: firstSignalAt.get(peerId), open: openedAt.get(peerId) }]),
    ),
  }),

  /** Resolves once a link to every one of `peerIds` has opened (tests/support/open-waiters.ts). */
  whenLinked(peerIds: string[]): Promise<void> {
    return linkWaiters.until(() => peerIds.every((id) => openedAt.has(id)));
  },

  signalsOut: () => ({ ...signalsOut }),

  /** Receive timing for throughput: when the last byte of a transfer arrived (epoch ms). */
  receivedAt: () => lastReceiveAt,
  now: preciseNow,

  // --- baselines: a minimal hand-written exchange over the same registry, no engine -------------
  rawOffer: (peerId: string) => raw.offer(peerId),
  rawSendBulk: (peerId: string, bytes: number, chunk: number) => raw.sendBulk(peerId, bytes, chunk),
  rawReceivedBytes: () => raw.receivedBytes,
  rawRelayBulk: (peerId: string, bytes: number, chunk: number) => raw.relayBulk(peerId, bytes, chunk),

  registryState: () => client.state.phase,
  peers: () => manager.peerIds(),
  snapshot: (peerId: string): LinkSnapshot | undefined => manager.snapshot(peerId),
  /** The link's diagnostics: its snapshot and every ICE candidate it gathered or received. */
  diagnostics: async (peerId: string) => (await manager.diagnostics()).find((d) => d.peerId === peerId),
  states: () => Object.fromEntries(manager.snapshots().map((s) => [s.peerId, s.state])),
  received: (peerId: string) => received.get(peerId) ?? { count: 0, seqs: [], blobs: [] },
  errors: () => errors,
  setBlockDirect: (block: boolean) => manager.setBlockDirect(block),
  maxBufferedAmount: () => maxBuffered,

  /** Sends `{ seq }` messages from..to (inclusive), optionally with a text body. */
  async sendSeq(peerId: string, from: number, to: number, text = ''): Promise<void> {
    for (let seq = from; seq <= to; seq++) await manager.send(peerId, { t: TEST_MESSAGE, seq, text });
  },

  /** Sends one random blob of `bytes` and returns its SHA-256 and when sending began; samples bufferedAmount. */
  async sendBlob(peerId: string, bytes: number): Promise<{ hash: string; startedAt: number }> {
    const blob = new Uint8Array(bytes);
    for (let offset = 0; offset < bytes; offset += 65536) crypto.getRandomValues(blob.subarray(offset, Math.min(bytes, offset + 65536)));
    const hash = await sha256(blob);
    const channel = manager.dataChannel(peerId);
    const originalSend = channel?.send.bind(channel);
    if (channel && originalSend) {
      // Sample right after every send: the highest the buffer ever gets.
      channel.send = ((data: ArrayBuffer) => {
        originalSend(data);
        maxBuffered = Math.max(maxBuffered, channel.bufferedAmount);
      }) as RTCDataChannel['send'];
    }
    const startedAt = preciseNow();
    await manager.send(peerId, { t: TEST_MESSAGE, blob });
    return { hash, startedAt };
  },

  /** Attacks, as a misbehaving peer: raw bytes on the DataChannel, or a relay blob under a wrong key. */
  rawDataChannelSend(peerId: string, bytes: number[]): void {
    const channel = manager.dataChannel(peerId);
    if (!channel) throw new Error('no DataChannel');
    channel.send(new Uint8Array(bytes));
  },
  forgedRelaySend(peerId: string, bytes: number[]): boolean {
    return client.sendRelay(peerId, new Uint8Array(bytes));
  },

  leave(): void {
    manager?.close();
    client?.stop();
    for (const pc of raw.pcs.values()) pc.close();
    raw.spare?.close();
    raw.spare = undefined;
    raw.pcs.clear();
    raw.channels.clear();
    raw.openedAt.clear();
    raw.receivedBytes = 0;
  },

  /**
   * The link's WebRTC statistics (ours, or the raw baseline's connection): every report but
   * codecs and certificates, for looking into throughput (bench/links.bench.ts, BENCH_SCTP_STATS).
   */
  async transportStats(peerId: string): Promise<Array<Record<string, unknown>>> {
    const ours = (manager as unknown as { links?: Map<string, { link: { pc?: RTCPeerConnection } }> } | undefined)?.links?.get(peerId)?.link.pc;
    const pc = ours ?? raw.pcs.get(peerId);
    if (!pc) return [];
    const reports: Array<Record<string, unknown>> = [];
    (await pc.getStats()).forEach((report: Record<string, unknown>) => {
      if (report.type !== 'codec' && report.type !== 'certificate') reports.push({ ...report });
    });
    return reports;
  },

  /**
   * Timestamps of a transfer's DataChannel messages (1 KiB or more: the stream's DATA frames, not
   * its ACKs, which are counted apart as smallSends) on this side, ours or the raw baseline's: first and last send, and first and last
   * arrival, taken before the page's own handler runs (bench/dc-timeline.bench.ts).
   */
  watchTransfer(peerId: string): void {
    const channel = manager?.dataChannel(peerId) ?? raw.channels.get(peerId);
    if (!channel) throw new Error('no DataChannel');
    const send = channel.send.bind(channel);
    channel.send = ((data: ArrayBuffer) => {
      if (data.byteLength >= 1024) {
        const t = preciseNow();
        transfer.firstSend ??= t;
        transfer.lastSend = t;
        transfer.sends++;
      } else {
        transfer.smallSends++;
      }
      send(data);
    }) as RTCDataChannel['send'];
    const handler = channel.onmessage;
    channel.onmessage = function (this: RTCDataChannel, event: MessageEvent) {
      const bytes = (event.data as ArrayBuffer).byteLength;
      if (bytes >= 1024) {
        const t = preciseNow();
        transfer.firstArrival ??= t;
        transfer.lastArrival = t;
        transfer.arrivals++;
      }
      return handler?.call(this, event);
    };
    channel.addEventListener('bufferedamountlow', () => transfer.lowEvents++);
  },
  transferTimes: () => transfer,
  /** The link's history, for diagnosing a slow or failed setup. */
  history: (peerId: string) => manager?.snapshot(peerId)?.history ?? [],
};

let lastReceiveAt = 0;
/** What watchTransfer saw. */
const transfer = { firstSend: undefined as number | undefined, lastSend: 0, sends: 0, smallSends: 0, firstArrival: undefined as number | undefined, lastArrival: 0, arrivals: 0, lowEvents: 0 };

/**
 * The baseline: plain RTCPeerConnection + DataChannel, plain relay frames, nothing else. Like the
 * engine's newcomer, each console makes one bare connection when it joins and uses it for its
 * first link, so link_setup compares like with like on both sides: the offerer's connection and
 * offer are made before the timed window (it starts when the offer is sent), the answerer's
 * connection before the offer arrives.
 */
const raw = {
  spare: undefined as RTCPeerConnection | undefined,
  pcs: new Map<string, RTCPeerConnection>(),
  channels: new Map<string, RTCDataChannel>(),
  openedAt: new Map<string, number>(),
  receivedBytes: 0,
  client: undefined as SignalingClient | undefined,

  attach(c: SignalingClient) {
    this.client = c;
    this.spare = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    c.on('signal', (frame) => void this.onSignal(frame.from_peer_id, frame.type, frame.payload));
    c.on('relay', (frame) => this.count(frame.payload.length));
  },
  pc(peerId: string): RTCPeerConnection {
    let pc = this.pcs.get(peerId);
    if (pc) return pc;
    pc = this.spare ?? new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    this.spare = undefined;
    this.pcs.set(peerId, pc);
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.client!.sendSignal('webrtc_ice_candidate', peerId, new TextEncoder().encode(JSON.stringify(candidate.toJSON())));
    };
    const channel = pc.createDataChannel('raw', { negotiated: true, id: 0 });
    channel.binaryType = 'arraybuffer';
    channel.onopen = () => this.openedAt.set(peerId, preciseNow());
    channel.onmessage = (event) => this.count((event.data as ArrayBuffer).byteLength);
    this.channels.set(peerId, channel);
    return pc;
  },
  count(bytes: number) {
    this.receivedBytes += bytes;
    lastReceiveAt = preciseNow();
  },
  async offer(peerId: string) {
    const pc = this.pc(peerId);
    await pc.setLocalDescription(await pc.createOffer());
    this.client!.sendSignal('webrtc_offer', peerId, new TextEncoder().encode(pc.localDescription!.sdp));
  },
  async onSignal(peerId: string, type: string, payload: Uint8Array) {
    const pc = this.pc(peerId);
    const text = new TextDecoder().decode(payload);
    if (type === 'webrtc_offer') {
      await pc.setRemoteDescription({ type: 'offer', sdp: text });
      await pc.setLocalDescription(await pc.createAnswer());
      this.client!.sendSignal('webrtc_answer', peerId, new TextEncoder().encode(pc.localDescription!.sdp));
    } else if (type === 'webrtc_answer') {
      await pc.setRemoteDescription({ type: 'answer', sdp: text });
    } else {
      await pc.addIceCandidate(JSON.parse(text)).catch(() => undefined);
    }
  },
  /** Same chunk size and flow control as the engine's DataChannel path. */
  async sendBulk(peerId: string, bytes: number, chunk: number) {
    const channel = this.channels.get(peerId)!;
    channel.bufferedAmountLowThreshold = 256 * 1024;
    const data = crypto.getRandomValues(new Uint8Array(chunk));
    for (let sent = 0; sent < bytes; sent += chunk) {
      if (channel.bufferedAmount >= 1024 * 1024) await new Promise((resolve) => (channel.onbufferedamountlow = resolve));
      channel.send(data.subarray(0, Math.min(chunk, bytes - sent)));
    }
  },
  /** Unsealed relay frames through the same registry, with the engine's relay flow control. */
  async relayBulk(peerId: string, bytes: number, chunk: number) {
    const data = crypto.getRandomValues(new Uint8Array(chunk));
    for (let sent = 0; sent < bytes; sent += chunk) {
      while (this.client!.bufferedAmount >= 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 10));
      this.client!.sendRelay(peerId, data.subarray(0, Math.min(chunk, bytes - sent)));
    }
  },
};

async function record(peerId: string, message: unknown): Promise<void> {
  lastReceiveAt = preciseNow();
  let entry = received.get(peerId);
  if (!entry) received.set(peerId, (entry = { count: 0, seqs: [], blobs: [] }));
  entry.count++;
  const m = message as { seq?: number; blob?: Uint8Array };
  if (typeof m?.seq === 'number') entry.seqs.push(m.seq);
  if (m?.blob instanceof Uint8Array) entry.blobs.push(await sha256(m.blob));
}

(window as unknown as { harness: typeof harness }).harness = harness;
export type Harness = typeof harness;
