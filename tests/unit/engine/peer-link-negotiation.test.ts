/**
 * Negotiation on a connection made ahead and handed its ICE servers later, in Node with a stub that
 * behaves as Chromium 156 does: `setConfiguration` fires `negotiationneeded` on a connection with
 * nothing to negotiate, an offer without a media section is refused under max-bundle, and adding the
 * channel later fires no second event (the negotiation-needed flag is still set). The whole link
 * runs in Chromium in tests/browser (links.spec: TURN).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SignalType } from '../../../src-shared/protocol/signaling';
import { PeerLink } from '../../../src-renderer/engine/link/peer-link';
import { decodeEnvelope, decodeLinkSignal } from '../../../src-renderer/engine/link/signal-codec';
import { StubConnection } from './stub-connection';
import { linkBetween, twoParties } from './test-link';

/** An RTCPeerConnection's negotiation-needed flag and max-bundle rule, as Chromium 156 has them. */
class Chromium156Connection extends StubConnection {
  private channels = 0;
  private negotiationNeeded = false;
  override setConfiguration() {
    this.flagNegotiationNeeded();
  }
  override createDataChannel() {
    this.channels++;
    this.flagNegotiationNeeded();
    return super.createDataChannel();
  }
  override async setLocalDescription() {
    if (this.channels === 0) throw new Error('Failed to set local offer sdp: max-bundle configured but session description has no BUNDLE group');
    await super.setLocalDescription();
    this.localDescription = { type: 'offer', sdp: 'v=0\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n' };
  }
  private flagNegotiationNeeded() {
    if (this.negotiationNeeded) return; // already set: no second event
    this.negotiationNeeded = true;
    setTimeout(() => this.onnegotiationneeded?.(), 0);
  }
}

const links: PeerLink[] = [];
afterEach(() => links.splice(0).forEach((link) => link.close()));
const wait = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('PeerLink negotiation on a bare connection given ICE servers (Chromium 156)', () => {
  it('offers with its channel after waiting for the peer’s offer, and reports no error', async () => {
    const [ada, bob] = await twoParties();
    const bare = new Chromium156Connection();
    const sent: Array<{ type: SignalType; payload: Uint8Array }> = [];
    const link = new PeerLink({
      ...linkBetween(ada, bob),
      port: { sendSignal: (type, payload) => (sent.push({ type, payload }), true), sendRelay: () => true, relayWritable: () => true, relayMaxFrameBytes: () => 256 * 1024 },
      config: { offerWaitMs: 30, iceServers: [{ urls: 'turn:127.0.0.1:3478', username: 'u', credential: 'c' }] },
      offersFirst: false,
      preparer: {
        take: () => undefined,
        takeBare: () => {
          bare.setConfiguration(); // what the preparer does when the ICE servers differ
          return bare as unknown as RTCPeerConnection;
        },
      },
    });
    links.push(link);
    const errors: string[] = [];
    link.on('error', (error) => errors.push(`${error.code}: ${error.message}`));
    link.start();

    await wait(10); // the early negotiationneeded has fired, before any channel
    expect(sent.filter((s) => s.type === 'webrtc_offer')).toHaveLength(0);
    await wait(60); // the wait for the peer's offer is over: this side offers
    expect(errors).toEqual([]);
    const offers = sent.filter((s) => s.type === 'webrtc_offer');
    expect(offers).toHaveLength(1);
    const envelope = decodeEnvelope(offers[0]!.payload);
    if ('error' in envelope) throw new Error(envelope.error);
    const signal = decodeLinkSignal(envelope.body);
    if ('error' in signal) throw new Error(signal.error);
    expect(signal.description?.sdp).toContain('m=application');
  });
});

/**
 * node-datachannel's polyfill as tests/unit/agent/node-datachannel.test.ts finds it: libdatachannel
 * sets the offer by itself when the first channel is created, and `setLocalDescription()` without a
 * description does nothing.
 */
class LibdatachannelConnection extends StubConnection {
  override createDataChannel() {
    if (this.signalingState === 'stable' && !this.remoteDescription) {
      this.localDescription = { type: 'offer', sdp: 'v=0\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n' };
      this.signalingState = 'have-local-offer';
      queueMicrotask(() => this.onnegotiationneeded?.()); // as src-agent/webrtc.ts fires it
    }
    return super.createDataChannel();
  }
  override async setLocalDescription() {}
}

describe('PeerLink negotiation on a connection that sets its offer itself (node-datachannel)', () => {
  it.each([
    ['offering at once', true],
    ['after waiting for the peer’s offer', false],
  ])('sends the offer the platform set, %s, on a connection the link made itself', async (_, offersFirst) => {
    const [ada, bob] = await twoParties();
    const sent: Array<{ type: SignalType; payload: Uint8Array }> = [];
    const link = new PeerLink({
      ...linkBetween(ada, bob),
      port: { sendSignal: (type, payload) => (sent.push({ type, payload }), true), sendRelay: () => true, relayWritable: () => true, relayMaxFrameBytes: () => 256 * 1024 },
      config: { offerWaitMs: 30 },
      createPeerConnection: () => new LibdatachannelConnection() as unknown as RTCPeerConnection,
      offersFirst,
    });
    links.push(link);
    const errors: string[] = [];
    link.on('error', (error) => errors.push(`${error.code}: ${error.message}`));
    link.start();
    await wait(60);
    expect(errors).toEqual([]);
    const offers = sent.filter((s) => s.type === 'webrtc_offer');
    expect(offers).toHaveLength(1); // once: negotiationneeded finds it sent
    const envelope = decodeEnvelope(offers[0]!.payload);
    if ('error' in envelope) throw new Error(envelope.error);
    const signal = decodeLinkSignal(envelope.body);
    if ('error' in signal) throw new Error(signal.error);
    expect(signal.description).toMatchObject({ type: 'offer' });
    expect(signal.description?.sdp).toContain('m=application');
  });
});
