/**
 * The answering side of a link, in Node with a stub RTCPeerConnection whose answer takes as long as
 * the test says: the peer's candidates, which follow its offer at once, reach the connection while
 * the answer is being made (a browser queues them behind it), so ICE checks can begin as soon as
 * the answer is set; a later description still waits for the answer. Before, the link applied
 * nothing from the peer until its answer was set and sent (docs/BENCHMARKS.md, cold setup).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SignalType } from '../../../src-shared/protocol/signaling';
import { PeerLink } from '../../../src-renderer/engine/link/peer-link';
import { encodeEnvelope, encodeLinkSignal, signalMacBytes, type LinkSignal } from '../../../src-renderer/engine/link/signal-codec';
import { deriveSignalKey, recipientKeyId, signalMac } from '../../../src-renderer/engine/link/signal-key';
import { StubConnection } from './stub-connection';
import { linkBetween, twoParties, type Party } from './test-link';

/** Applies descriptions at once, but sets its answer only when the test releases it; notes what happened in which order. */
class SlowAnswerConnection extends StubConnection {
  readonly steps: string[] = [];
  private release: (() => void) | undefined;
  async setRemoteDescription(description: { type: string; sdp: string }) {
    this.steps.push(`remote ${description.type}`);
    this.remoteDescription = description;
    this.signalingState = 'have-remote-offer';
  }
  override async setLocalDescription() {
    this.steps.push('answer begun');
    await new Promise<void>((done) => (this.release = done));
    this.localDescription = { type: 'answer', sdp: 'v=0\r\n' };
    this.signalingState = 'stable';
    this.steps.push('answer set');
  }
  async addIceCandidate(candidate: { candidate: string }) {
    this.steps.push(`candidate ${candidate.candidate || '(end)'}`);
  }
  answerNow() {
    this.release?.();
  }
}

const links: PeerLink[] = [];
afterEach(() => links.splice(0).forEach((link) => link.close()));
const settle = () => new Promise((done) => setTimeout(done, 20));

/** What `from` sends `to` for its connection 'connection-of-bob', MAC'd as a link does. */
async function signal(from: Party, to: Party, seq: number, type: SignalType, body: Pick<LinkSignal, 'description' | 'candidate'>) {
  const inner = encodeLinkSignal({ v: 1, from: 'connection-of-bob', to: null, ...body });
  const key = (await deriveSignalKey(from.session, to.session.certificate))!;
  const recipient = recipientKeyId(to.session.certificate.boxKey);
  const mac = signalMac(key, signalMacBytes(type, from.identity.peerId, to.identity.peerId, 'project-1', seq, recipient, inner));
  return { type, payload: encodeEnvelope({ certificate: from.session.certificate, seq, body: inner, auth: { mac, recipientKeyId: recipient } }) };
}

describe('PeerLink answering an offer', () => {
  it('applies the candidates that follow the offer while its answer is being made, and sends the answer once set', async () => {
    const [ada, bob] = await twoParties();
    const pc = new SlowAnswerConnection();
    const sent: SignalType[] = [];
    const link = new PeerLink({
      ...linkBetween(ada, bob),
      remoteCertificate: bob.session.certificate,
      remoteSignalKey: (await deriveSignalKey(ada.session, bob.session.certificate))!,
      port: { sendSignal: (type) => (sent.push(type), true), sendRelay: () => true, relayWritable: () => true, relayMaxFrameBytes: () => 256 * 1024 },
      createPeerConnection: () => pc as unknown as RTCPeerConnection,
      offersFirst: false,
    });
    links.push(link);
    const errors: string[] = [];
    link.on('error', (error) => errors.push(`${error.code}: ${error.message}`));
    link.start();

    const candidate = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: null };
    for (const s of [
      await signal(bob, ada, 1, 'webrtc_offer', { description: { type: 'offer', sdp: 'v=0\r\n' } }),
      await signal(bob, ada, 2, 'webrtc_ice_candidate', { candidate }),
      await signal(bob, ada, 3, 'webrtc_ice_candidate', { candidate: null }),
    ]) link.handleSignal(s.type, s.payload);
    await settle();
    // The answer is still being made; the peer's candidates are with the connection already.
    expect(pc.steps).toEqual(['remote offer', 'answer begun', `candidate ${candidate.candidate}`, 'candidate (end)']);
    expect(sent).not.toContain('webrtc_answer');

    pc.answerNow();
    await settle();
    expect(pc.steps.at(-1)).toBe('answer set');
    expect(sent).toContain('webrtc_answer');
    expect(errors).toEqual([]);
  });

  it('applies a later description only once the answer is set', async () => {
    const [ada, bob] = await twoParties();
    const pc = new SlowAnswerConnection();
    const link = new PeerLink({
      ...linkBetween(ada, bob),
      remoteCertificate: bob.session.certificate,
      remoteSignalKey: (await deriveSignalKey(ada.session, bob.session.certificate))!,
      port: { sendSignal: () => true, sendRelay: () => true, relayWritable: () => true, relayMaxFrameBytes: () => 256 * 1024 },
      createPeerConnection: () => pc as unknown as RTCPeerConnection,
      offersFirst: false,
    });
    links.push(link);
    link.start();
    for (const s of [
      await signal(bob, ada, 1, 'webrtc_offer', { description: { type: 'offer', sdp: 'v=0\r\n' } }),
      await signal(bob, ada, 2, 'webrtc_offer', { description: { type: 'offer', sdp: 'v=0\r\na=ice-restart\r\n' } }),
    ]) link.handleSignal(s.type, s.payload);
    await settle();
    expect(pc.steps).toEqual(['remote offer', 'answer begun']);
    pc.answerNow();
    await settle();
    expect(pc.steps.slice(0, 4)).toEqual(['remote offer', 'answer begun', 'answer set', 'remote offer']);
  });
});
