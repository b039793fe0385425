/**
 * A PeerLink on a manual clock (PeerLinkOptions.clock) over a stub connection that never finds a
 * direct path: the path policy's timings as the link carries them out. The decisions alone are
 * in path-policy.test.ts; the same in Chromium in tests/browser/links.spec.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createIdentity, ed25519Sign, signedMessage } from '../../../src-shared/identity';
import { createSession } from '../../../src-shared/session-certificate';
import { DEFAULT_LINK_CONFIG, PeerLink } from '../../../src-renderer/engine/link/peer-link';
import { ManualClock } from './manual-clock';
import { StubConnection } from './stub-connection';

const links: PeerLink[] = [];
afterEach(() => links.splice(0).forEach((link) => link.close()));

async function relayableLink() {
  const [ada, bob] = await Promise.all([createIdentity(), createIdentity()]);
  const certify = (id: typeof ada) => (body: Uint8Array) => ed25519Sign(id.signingSecretKey, signedMessage('sessionKey', body));
  const [session, bobSession] = await Promise.all([createSession(certify(ada)), createSession(certify(bob))]);
  const clock = new ManualClock();
  const connections: StubConnection[] = [];
  const relayed: Uint8Array[] = [];
  let seq = 0;
  const link = new PeerLink({
    localPeerId: ada.peerId,
    remotePeerId: bob.peerId,
    remoteSigningKey: bob.signingPublicKey,
    projectId: 'project-1',
    session,
    sign: (message) => ed25519Sign(session.signSecretKey, message),
    nextSeq: () => ++seq,
    remoteCertificate: bobSession.certificate, // known from presence: the relay can seal for it
    port: { sendSignal: () => true, sendRelay: (payload) => (relayed.push(payload), true), relayWritable: () => true, relayMaxFrameBytes: () => 256 * 1024 },
    createPeerConnection: () => {
      const pc = new StubConnection();
      connections.push(pc);
      return pc as unknown as RTCPeerConnection;
    },
    offersFirst: true,
    clock,
  });
  links.push(link);
  const states: string[] = [];
  link.on('change', ({ state }) => states.at(-1) !== state && states.push(state));
  return { link, clock, connections, relayed, states };
}

describe('a PeerLink’s paths on its injected clock', () => {
  it('relays 10 s after negotiation started when ICE is still checking, not a millisecond before, and sends what waited', async () => {
    const { link, clock, connections, relayed, states } = await relayableLink();
    link.start();
    const pc = connections[0]!;
    pc.iceConnectionState = 'checking';
    pc.oniceconnectionstatechange?.();
    const sending = link.send({ t: 'hello' }); // queued: no path yet
    clock.advance(DEFAULT_LINK_CONFIG.fallbackAfterMs - 1);
    expect(link.state).toBe('checking');
    expect(relayed).toEqual([]);
    clock.advance(1);
    expect(link.state).toBe('relay');
    await sending;
    expect(relayed.length).toBeGreaterThan(0);
    expect(states).toEqual(['signaling', 'checking', 'relay']);
    expect(link.snapshot().relayFallbacks).toBe(1);
  });

  it('the impolite side makes a new connection when the first retry is due, while the link relays on', async () => {
    const { link, clock, connections } = await relayableLink();
    link.start();
    clock.advance(DEFAULT_LINK_CONFIG.fallbackAfterMs);
    expect(link.state).toBe('relay');
    expect(connections).toHaveLength(1);
    clock.advance(DEFAULT_LINK_CONFIG.directRetry.baseMs);
    if (link.polite) expect(connections).toHaveLength(1); // the other side makes it, this one answers
    else expect(connections).toHaveLength(2);
    expect(link.state).toBe('relay');
  });

  it('ICE failing on the connection relays at once, without waiting for the fallback', async () => {
    const { link, clock, connections } = await relayableLink();
    link.start();
    clock.advance(1_000);
    const pc = connections[0]!;
    pc.iceConnectionState = 'failed';
    pc.oniceconnectionstatechange?.();
    expect(link.state).toBe('relay');
    expect(link.snapshot().history.some((h) => h.event === 'relay' && h.detail.includes('ICE failed'))).toBe(true);
  });
});
