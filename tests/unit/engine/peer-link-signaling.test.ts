/**
 * How a PeerLink authenticates signaling, in Node with a stub RTCPeerConnection: MAC'd under the key
 * shared with the peer's session when it knows that session, signed otherwise; forged, replayed and
 * stale messages told apart. And what state it reports while connecting. (The whole negotiation
 * runs in Chromium: tests/browser.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createIdentity, ed25519Sign, signedMessage, type SecretIdentity } from '../../../src-shared/identity';
import { createSession, type SessionSecrets } from '../../../src-shared/session-certificate';
import type { SignalType } from '../../../src-shared/protocol/signaling';
import { PeerLink } from '../../../src-renderer/engine/link/peer-link';
import { decodeEnvelope, encodeEnvelope, encodeLinkSignal, signalMacBytes, signalSignedBytes } from '../../../src-renderer/engine/link/signal-codec';
import { StubConnection } from './stub-connection';
import { deriveSignalKey, recipientKeyId, signalMac, signalMacValid } from '../../../src-renderer/engine/link/signal-key';

const PROJECT = 'project-1';

interface Console {
  identity: SecretIdentity;
  session: SessionSecrets;
}

async function newConsole(): Promise<Console> {
  const identity = await createIdentity();
  const session = await createSession((body) => ed25519Sign(identity.signingSecretKey, signedMessage('sessionKey', body)));
  return { identity, session };
}


const links: PeerLink[] = [];
afterEach(() => links.splice(0).forEach((link) => link.close()));

const settle = () => new Promise((done) => setTimeout(done, 20));

/**
 * `local`'s link to `remote`, knowing nothing of its session, its certificate only, or its
 * certificate and the key they share (as the manager gives it); what it sends and its errors are collected.
 */
async function linkOf(local: Console, remote: Console, knows: 'nothing' | 'certificate' | 'session') {
  const remoteSignalKey = knows === 'session' ? await deriveSignalKey(local.session, remote.session.certificate) : undefined;
  const sent: Array<{ type: SignalType; payload: Uint8Array }> = [];
  const connections: StubConnection[] = [];
  let seq = 0;
  const link = new PeerLink({
    localPeerId: local.identity.peerId,
    remotePeerId: remote.identity.peerId,
    remoteSigningKey: remote.identity.signingPublicKey,
    projectId: PROJECT,
    session: local.session,
    sign: (message) => ed25519Sign(local.session.signSecretKey, message),
    nextSeq: () => ++seq,
    ...(knows !== 'nothing' ? { remoteCertificate: remote.session.certificate } : {}),
    ...(remoteSignalKey ? { remoteSignalKey } : {}),
    port: { sendSignal: (type, payload) => (sent.push({ type, payload }), true), sendRelay: () => true, relayWritable: () => true, relayMaxFrameBytes: () => 256 * 1024 },
    createPeerConnection: () => {
      const pc = new StubConnection();
      connections.push(pc);
      return pc as unknown as RTCPeerConnection;
    },
    offersFirst: true,
  });
  links.push(link);
  const errors: string[] = [];
  link.on('error', (error) => errors.push(error.code));
  /** Hands the link a signaling message as the registry would, and lets it be checked and applied. */
  const receive = async (signal: { type: SignalType; payload: Uint8Array }) => {
    link.handleSignal(signal.type, signal.payload);
    await settle();
  };
  return { link, sent, connections, errors, receive };
}

/** What `from` would send `to` (as its link would), MAC'd or signed. */
async function signalFrom(from: Console, to: Console, seq: number, auth: 'mac' | 'signature', options: { recipient?: Uint8Array; tamper?: boolean } = {}) {
  const type: SignalType = 'webrtc_ice_candidate';
  const body = encodeLinkSignal({ v: 1, from: 'connection-of-from', to: null, candidate: null });
  let envelopeAuth;
  if (auth === 'mac') {
    const key = (await deriveSignalKey(from.session, to.session.certificate))!;
    const recipient = options.recipient ?? recipientKeyId(to.session.certificate.boxKey);
    envelopeAuth = { mac: signalMac(key, signalMacBytes(type, from.identity.peerId, to.identity.peerId, PROJECT, seq, recipient, body)), recipientKeyId: recipient };
  } else {
    envelopeAuth = { signature: await ed25519Sign(from.session.signSecretKey, signalSignedBytes(type, from.identity.peerId, to.identity.peerId, PROJECT, seq, body)) };
  }
  const sentBody = options.tamper ? encodeLinkSignal({ v: 1, from: 'connection-of-eve', to: null, candidate: null }) : body;
  return { type, payload: encodeEnvelope({ certificate: from.session.certificate, seq, body: sentBody, auth: envelopeAuth }) };
}

describe('PeerLink signaling authentication', () => {
  it('MACs its offer for a peer whose session it knows, and signs it for one whose session it does not', async () => {
    const [ada, bob] = await Promise.all([newConsole(), newConsole()]);
    const knowing = await linkOf(ada, bob, 'session');
    knowing.link.start();
    await knowing.connections[0]!.onnegotiationneeded!();
    await settle();
    const macd = decodeEnvelope(knowing.sent[0]!.payload);
    if ('error' in macd || !('mac' in macd.auth)) throw new Error('expected a MAC’d envelope');
    const bobKey = (await deriveSignalKey(bob.session, ada.session.certificate))!;
    expect(macd.auth.recipientKeyId).toEqual(recipientKeyId(bob.session.certificate.boxKey));
    expect(signalMacValid(bobKey, signalMacBytes('webrtc_offer', ada.identity.peerId, bob.identity.peerId, PROJECT, macd.seq, macd.auth.recipientKeyId, macd.body), macd.auth.mac)).toBe(true);

    const unknowing = await linkOf(ada, bob, 'nothing');
    unknowing.link.start();
    await unknowing.connections[0]!.onnegotiationneeded!();
    await settle();
    const signed = decodeEnvelope(unknowing.sent[0]!.payload);
    if ('error' in signed) throw new Error(signed.error);
    expect('signature' in signed.auth).toBe(true);
  });

  it('derives the key itself for a certificate it was given without one, and then MACs', async () => {
    const [ada, bob] = await Promise.all([newConsole(), newConsole()]);
    const { link, sent, connections } = await linkOf(ada, bob, 'certificate');
    await settle(); // the derivation is a moment of WebCrypto
    link.start();
    await connections[0]!.onnegotiationneeded!();
    await settle();
    const envelope = decodeEnvelope(sent[0]!.payload);
    if ('error' in envelope) throw new Error(envelope.error);
    expect('mac' in envelope.auth).toBe(true);
  });

  it('accepts a MAC’d message once, refuses it replayed, and refuses one altered on the way as forged', async () => {
    const [ada, bob] = await Promise.all([newConsole(), newConsole()]);
    const { link, errors, receive } = await linkOf(bob, ada, 'session');
    const first = await signalFrom(ada, bob, 1, 'mac');
    await receive(first);
    expect(errors).toEqual([]);
    await receive(first);
    expect(errors).toEqual(['SIGNAL_REPLAYED']);
    const altered = await signalFrom(ada, bob, 2, 'mac', { tamper: true });
    await receive(altered);
    expect(errors).toEqual(['SIGNAL_REPLAYED', 'SIGNAL_FORGED']);
    expect(link.snapshot().rejectedSignals).toBe(2);
  });

  it('refuses a message MAC’d by a third console under its own key, claiming to be the peer', async () => {
    const [ada, bob, eve] = await Promise.all([newConsole(), newConsole(), newConsole()]);
    const { errors, receive } = await linkOf(bob, ada, 'session');
    // Eve MACs with the key she shares with Bob, and sends it as Ada's (with Ada's certificate).
    const eveKey = (await deriveSignalKey(eve.session, bob.session.certificate))!;
    const body = encodeLinkSignal({ v: 1, from: 'connection-of-eve', to: null, candidate: null });
    const recipient = recipientKeyId(bob.session.certificate.boxKey);
    const mac = signalMac(eveKey, signalMacBytes('webrtc_ice_candidate', ada.identity.peerId, bob.identity.peerId, PROJECT, 1, recipient, body));
    await receive({ type: 'webrtc_ice_candidate', payload: encodeEnvelope({ certificate: ada.session.certificate, seq: 1, body, auth: { mac, recipientKeyId: recipient } }) });
    expect(errors).toEqual(['SIGNAL_FORGED']);
  });

  it('drops, without alarm, a message MAC’d for an earlier session of this console', async () => {
    const [ada, bob] = await Promise.all([newConsole(), newConsole()]);
    const { link, errors, receive } = await linkOf(bob, ada, 'session');
    const earlierBob = await newConsole();
    const stale = await signalFrom(ada, bob, 1, 'mac', { recipient: recipientKeyId(earlierBob.session.certificate.boxKey) });
    await receive(stale);
    expect(errors).toEqual([]);
    expect(link.snapshot().rejectedSignals).toBe(0);
    expect(link.snapshot().history.map((h) => h.event)).toContain('signal-stale');
    // not taken as received either: the same sequence number MAC'd for this session is accepted
    const current = await signalFrom(ada, bob, 1, 'mac');
    await receive(current);
    expect(errors).toEqual([]);
  });

  it('still accepts signed messages (from a peer that did not know this session), and refuses a forged signature', async () => {
    const [ada, bob] = await Promise.all([newConsole(), newConsole()]);
    const { errors, receive } = await linkOf(bob, ada, 'nothing');
    const signed = await signalFrom(ada, bob, 1, 'signature');
    await receive(signed);
    expect(errors).toEqual([]);
    const tampered = await signalFrom(ada, bob, 2, 'signature', { tamper: true });
    await receive(tampered);
    expect(errors).toEqual(['SIGNAL_FORGED']);
  });
});

describe('PeerLink state while connecting', () => {
  it('says checking from the first ICE check until its DataChannel opens, not signaling once ICE has connected', async () => {
    const [ada, bob] = await Promise.all([newConsole(), newConsole()]);
    const { link, connections } = await linkOf(ada, bob, 'session');
    link.start();
    const pc = connections[0]!;
    expect(link.snapshot().state).toBe('signaling');
    for (const [ice, state] of [['checking', 'checking'], ['connected', 'checking'], ['disconnected', 'checking'], ['new', 'signaling']] as const) {
      pc.iceConnectionState = ice;
      pc.oniceconnectionstatechange!();
      expect(link.snapshot().state, `ICE ${ice}`).toBe(state);
    }
  });
});

describe('PeerLink when the registry drops its signaling (RATE_LIMITED)', () => {
  const kinds = (sent: Array<{ type: SignalType }>) => sent.map((m) => m.type);

  it('sends its unanswered offer again at once', async () => {
    const [ada, bob] = await Promise.all([newConsole(), newConsole()]);
    const { link, sent, connections } = await linkOf(ada, bob, 'session');
    link.start();
    await connections[0]!.onnegotiationneeded!();
    await settle();
    expect(kinds(sent)).toEqual(['webrtc_offer']);
    link.signalRefused('webrtc_offer', 'RATE_LIMITED');
    await settle();
    expect(kinds(sent)).toEqual(['webrtc_offer', 'webrtc_offer']);
    expect(decodeEnvelope(sent[1]!.payload)).toMatchObject({ body: expect.any(Uint8Array) });
    expect(link.snapshot().history.map((h) => h.event)).toContain('signal-refused');
  });

  it('sends every candidate of the connection again when one was dropped', async () => {
    const [ada, bob] = await Promise.all([newConsole(), newConsole()]);
    const { link, sent, connections } = await linkOf(ada, bob, 'session');
    link.start();
    const pc = connections[0]!;
    const candidate = (n: number) => ({ candidate: `candidate:${n} 1 udp 1 127.0.0.1 ${5000 + n} typ host`, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'u' });
    pc.onicecandidate!({ candidate: candidate(1) });
    pc.onicecandidate!({ candidate: candidate(2) });
    pc.onicecandidate!({ candidate: null }); // held back (held-candidates.test.ts)
    await settle();
    const before = sent.length;
    link.signalRefused('webrtc_ice_candidate', 'RATE_LIMITED');
    await settle();
    expect(kinds(sent.slice(before))).toEqual(['webrtc_ice_candidate', 'webrtc_ice_candidate']);
  });
});
