/**
 * What the link (src-renderer/engine/link) relies on from RTCPeerConnection, probed against
 * node-datachannel in Node: the polyfill as shipped where it already behaves like a browser, and
 * src-agent/webrtc.ts where it does not (docs/PEER-PROTOCOL.md, "Node peers (node-datachannel)").
 * Two connections on loopback, signalled by hand the way PeerLink does it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RTCPeerConnection as PolyfillPeerConnection } from 'node-datachannel/polyfill';
import { nodePeerConnectionFactory } from '../../../src-agent/webrtc';
import { createLinkChannel, CHANNEL_LABEL } from '../../../src-renderer/engine/link/prepared-connection';
import { rtcConfiguration } from '../../../src-renderer/engine/link/peer-link';
import { readSelectedPath } from '../../../src-renderer/engine/link/path-stats';
import { DataChannelPath } from '../../../src-renderer/engine/link/datachannel-path';
import { mintTurnCredential } from '../../../src-main/registry/turn-credentials';
import { coturnAvailable, startCoturn } from '../../support/coturn';

const create = nodePeerConnectionFactory({ bindAddress: '127.0.0.1' });
const configuration = () => rtcConfiguration({ iceServers: [], iceTransportPolicy: 'all' });
const open: RTCPeerConnection[] = [];

function make(config: RTCConfiguration = configuration()): RTCPeerConnection {
  const pc = create(config);
  open.push(pc);
  return pc;
}

afterEach(() => {
  for (const pc of open.splice(0)) pc.close();
});

const once = <T extends Event>(target: EventTarget, type: string) => new Promise<T>((resolve) => target.addEventListener(type, (e) => resolve(e as T), { once: true }));

interface Pair {
  a: RTCPeerConnection;
  b: RTCPeerConnection;
  ca: RTCDataChannel;
  cb: RTCDataChannel;
  /** Every icecandidate event of `a`, as sent (null: end of candidates). */
  sentByA: Array<RTCIceCandidate | null>;
  negotiationNeeded: number;
}

/**
 * Candidates for `pc`, held until it has the remote description, as PeerLink holds early ones:
 * libdatachannel takes a candidate before the description and then fails that description
 * ("Got a remote candidate without ICE transport"), now and then.
 */
function candidateInbox(pc: RTCPeerConnection): { add(candidate: RTCIceCandidate): void; flush(): void } {
  let early: RTCIceCandidateInit[] | undefined = [];
  const add = (init: RTCIceCandidateInit) => void pc.addIceCandidate(init).catch(() => undefined);
  return {
    add: (candidate) => (early ? early.push(candidate.toJSON()) : add(candidate.toJSON())),
    flush: () => {
      const held = early ?? [];
      early = undefined;
      held.forEach(add);
    },
  };
}

/**
 * A connected pair. libdatachannel now and then refuses a well-formed answer with "Got a remote
 * candidate without ICE transport" when both ends share a busy machine (about 1 run in 15 here; a
 * known race of the library, seen by other projects too): the pair is then made again. PeerLink
 * copes the same way, by making a new connection when negotiation fails.
 */
async function connect(config?: RTCConfiguration): Promise<Pair> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce(config);
    } catch (error) {
      if (attempt === 3 || !/remote candidate without ICE transport/.test(String(error))) throw error;
    }
  }
}

/** Offer from `a` when it asks (negotiationneeded), answer from `b`, candidates trickled both ways. */
async function connectOnce(config?: RTCConfiguration): Promise<Pair> {
  const a = make(config);
  const b = make(config);
  const toA = candidateInbox(a);
  const toB = candidateInbox(b);
  const sentByA: Array<RTCIceCandidate | null> = [];
  a.onicecandidate = ({ candidate }) => {
    sentByA.push(candidate);
    if (candidate) toB.add(candidate);
  };
  b.onicecandidate = ({ candidate }) => void (candidate && toA.add(candidate));
  let negotiationNeeded = 0;
  const offered = new Promise<void>((resolve) => {
    a.onnegotiationneeded = async () => {
      negotiationNeeded++;
      await a.setLocalDescription();
      resolve();
    };
  });
  const ca = createLinkChannel(a);
  await offered;
  await b.setRemoteDescription(a.localDescription!);
  toB.flush();
  const cb = createLinkChannel(b);
  await b.setLocalDescription();
  await a.setRemoteDescription(b.localDescription!);
  toA.flush();
  ca.binaryType = cb.binaryType = 'arraybuffer';
  await Promise.all([ca.readyState === 'open' || once(ca, 'open'), cb.readyState === 'open' || once(cb, 'open')]);
  return { a, b, ca, cb, sentByA, negotiationNeeded };
}

describe('node-datachannel against what the link expects', () => {
  it('the pre-negotiated channel (id 0, ordered) opens on both sides under max-bundle, and binary messages arrive as ArrayBuffers, in order', async () => {
    const { a, ca, cb } = await connect();
    expect(a.localDescription!.sdp).toContain('a=group:BUNDLE 0');
    for (const channel of [ca, cb]) expect({ id: channel.id, label: channel.label, protocol: channel.protocol, negotiated: channel.negotiated, ordered: channel.ordered }).toEqual({ id: 0, label: CHANNEL_LABEL, protocol: CHANNEL_LABEL, negotiated: true, ordered: true });
    const got: number[] = [];
    const all = new Promise<void>((resolve) => {
      cb.onmessage = ({ data }) => {
        expect(data).toBeInstanceOf(ArrayBuffer);
        got.push(new Uint8Array(data as ArrayBuffer)[1]!);
        if (got.length === 100) resolve();
      };
    });
    for (let i = 0; i < 100; i++) ca.send(new Uint8Array([0x92, i]));
    await all;
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('negotiationneeded: the polyfill never fires it (libdatachannel sets the offer itself); the Node connection fires it once, after the channel exists', async () => {
    const raw = new PolyfillPeerConnection({ ...configuration(), bindAddress: '127.0.0.1' } as RTCConfiguration);
    let rawFired = 0;
    raw.onnegotiationneeded = () => rawFired++;
    raw.createDataChannel(CHANNEL_LABEL, { negotiated: true, id: 0 });
    expect(raw.signalingState).toBe('have-local-offer'); // offered by itself, at once
    await new Promise((r) => setTimeout(r, 50));
    expect(rawFired).toBe(0);
    raw.close();

    const { negotiationNeeded } = await connect();
    expect(negotiationNeeded).toBe(1);
  });

  it('descriptions: the polyfill gives an empty one for none, the Node connection null (the link waits for the offer before adding candidates)', async () => {
    const raw = new PolyfillPeerConnection({ ...configuration(), bindAddress: '127.0.0.1' } as RTCConfiguration);
    expect(raw.remoteDescription).not.toBeNull();
    expect(raw.remoteDescription.type).toBeUndefined();
    raw.close();
    const pc = make();
    expect(pc.localDescription).toBeNull();
    expect(pc.remoteDescription).toBeNull();
  });

  it('sctp.maxMessageSize is 256 KiB once connected; larger sends throw, and DataChannelPath fragments below it', async () => {
    const { a, ca } = await connect();
    expect(a.sctp?.maxMessageSize).toBe(256 * 1024);
    expect(() => ca.send(new Uint8Array(256 * 1024 + 1).fill(0x92))).toThrow(/size/i);
    const sent: number[] = [];
    const path = new DataChannelPath({ ...ca, binaryType: 'arraybuffer', send: (d: Uint8Array) => sent.push(d.length) } as unknown as RTCDataChannel, a.sctp?.maxMessageSize ?? undefined, 1 << 30);
    path.send(new Uint8Array(600 * 1024).fill(0x92));
    expect(Math.max(...sent)).toBeLessThanOrEqual(256 * 1024);
  });

  it('bufferedAmount grows without send throwing, and bufferedamountlow fires when it falls to bufferedAmountLowThreshold', async () => {
    const { ca } = await connect();
    ca.bufferedAmountLowThreshold = 256 * 1024;
    expect(ca.bufferedAmountLowThreshold).toBe(256 * 1024);
    // An event for a dip below the threshold while the loop was still sending is delivered after
    // the loop, when the buffer is full again: only an event that finds it drained counts.
    const low = new Promise<void>((resolve) => ca.addEventListener('bufferedamountlow', () => ca.bufferedAmount <= ca.bufferedAmountLowThreshold && resolve()));
    let highest = 0;
    for (let i = 0; i < 128; i++) { // 8 MiB at once: more than loopback drains meanwhile, even when the native side is quick
      ca.send(new Uint8Array(64 * 1024).fill(0x92));
      highest = Math.max(highest, ca.bufferedAmount);
    }
    expect(highest).toBeGreaterThan(256 * 1024);
    await low;
    expect(ca.bufferedAmount).toBeLessThanOrEqual(256 * 1024);
  }, 20_000); // a loaded machine drains slower

  it('restartIce throws (libdatachannel has no ICE restart)', async () => {
    const { a } = await connect();
    expect(() => a.restartIce()).toThrow();
  });

  it('setConfiguration: the same ICE servers are accepted; new ones are refused (libdatachannel would never apply them)', () => {
    const pc = make();
    expect(() => pc.setConfiguration(configuration())).not.toThrow();
    expect(() => pc.setConfiguration({ ...configuration(), iceServers: [{ urls: 'stun:127.0.0.1:3478' }] })).toThrow(expect.objectContaining({ name: 'InvalidModificationError' }));
    expect(() => pc.setConfiguration({ ...configuration(), iceTransportPolicy: 'relay' })).toThrow(expect.objectContaining({ name: 'InvalidModificationError' }));
  });

  it('trickle: candidates come with sdpMid "0" and no sdpMLineIndex, already in the offer; there is no null end-of-candidates', async () => {
    const { a, sentByA } = await connect();
    await new Promise((r) => setTimeout(r, 100));
    expect(a.iceGatheringState).toBe('complete');
    expect(sentByA.length).toBeGreaterThan(0);
    expect(sentByA).not.toContain(null);
    for (const candidate of sentByA) {
      expect(candidate).toMatchObject({ sdpMid: '0', sdpMLineIndex: null });
      expect(a.localDescription!.sdp).toContain(candidate!.candidate.replace(/^a=/, ''));
    }
  });

  it('getStats: the selected pair through the transport, with candidate types, address, protocol and RTT in seconds, as readSelectedPath reads them', async () => {
    const { a } = await connect();
    const report = (await a.getStats()) as unknown as Map<string, Record<string, unknown>>;
    const transport = [...report.values()].find((s) => s.type === 'transport');
    const pair = report.get(String(transport?.selectedCandidatePairId));
    expect(pair).toMatchObject({ type: 'candidate-pair', nominated: true, state: 'succeeded' });
    const local = report.get(String(pair!.localCandidateId));
    expect(local).toMatchObject({ type: 'local-candidate', candidateType: 'host', address: '127.0.0.1', protocol: 'udp' });
    // The remote side may be peer-reflexive: its checks can arrive before its trickled candidate.
    expect(report.get(String(pair!.remoteCandidateId))).toMatchObject({ type: 'remote-candidate', candidateType: expect.stringMatching(/^(host|prflx)$/), address: '127.0.0.1', protocol: 'udp' });
    if (pair!.currentRoundTripTime !== undefined) expect(pair!.currentRoundTripTime).toBeLessThan(1); // seconds, not milliseconds
    const path = await readSelectedPath(a);
    expect(path).toMatchObject({ kind: 'host', protocol: 'udp', local: `127.0.0.1:${String(local!.port)}` });
    expect(path?.remote).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it.skipIf(!coturnAvailable() && !process.env.CI)('TURN with the registry’s REST credentials (user name “<expiry>:<peer_id>”, base64 password): both sides relay through coturn, policy relay', async () => {
    const turn = await startCoturn();
    try {
      // The credential as the registry mints it: a colon in the user name, '+', '/' or '=' likely in the password.
      const { username, credential } = mintTurnCredential(turn.secret, 'a'.repeat(26), Math.floor(Date.now() / 1000) + 600);
      expect(username).toContain(':');
      const config = rtcConfiguration({ iceServers: [{ urls: `turn:127.0.0.1:${turn.port}?transport=udp`, username, credential }], iceTransportPolicy: 'relay' });
      // Policy relay: each side offers only its relayed candidate, so the channel opening at all
      // means both allocated on coturn (before the credentials were escaped, it never opened).
      const { a, b, ca, cb } = await connect(config);
      const got = once<MessageEvent>(cb, 'message');
      ca.send(new Uint8Array([0x92, 7]));
      expect(new Uint8Array((await got).data as ArrayBuffer)).toEqual(new Uint8Array([0x92, 7]));
      // How the path reads varies (so the test does not pin it): libjuice gathers, checks and
      // talks to TURN on one socket, and libdatachannel reports this side's own relayed candidate
      // as `host` with that socket's address; the peer's is `relay` when its trickled candidate
      // came first, `prflx` when its check did (the path then reads `host`, not `turn`).
      for (const pc of [a, b]) expect((await readSelectedPath(pc))?.protocol).toBe('udp');
    } finally {
      // Clients before their server: a connection closing with a TURN allocation whose server is
      // already gone is the one teardown this file does not need to exercise.
      for (const pc of open.splice(0)) pc.close();
      await turn.stop();
    }
  }, 20_000);
});
