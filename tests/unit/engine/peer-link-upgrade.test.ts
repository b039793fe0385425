/**
 * A link that settles on TURN tries once for a direct pair (PeerLink.considerUpgrade): a PeerLink
 * on a manual clock over a stub connection whose DataChannel opens on a TURN pair. Seen in the
 * soak: a Firefox console and a Chromium one behind two address-filtering NATs stayed on TURN
 * while a direct pair was within reach.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LINK_CONFIG, PATH_UPGRADE_AFTER_MS, PeerLink } from '../../../src-renderer/engine/link/peer-link';
import { ManualClock } from './manual-clock';
import { StubConnection } from './stub-connection';
import { linkBetween, twoParties } from './test-link';

/** A stub whose channel opens on demand, over a selected pair of the given local candidate type. */
class OpeningConnection extends StubConnection {
  restarts = 0;
  sctp = { maxMessageSize: 256 * 1024 };
  channel: { readyState: string; onopen: (() => void) | null; bufferedAmount: number; bufferedAmountLowThreshold: number; binaryType: string; send(): void; close(): void } | undefined;
  constructor(private readonly localType: 'relay' | 'srflx') {
    super();
  }
  override createDataChannel() {
    this.channel = { readyState: 'connecting', onopen: null, bufferedAmount: 0, bufferedAmountLowThreshold: 0, binaryType: 'arraybuffer', send() {}, close() {} };
    return this.channel;
  }
  open(): void {
    this.iceConnectionState = 'connected';
    this.channel!.readyState = 'open';
    this.channel!.onopen?.();
  }
  restartIce(): void {
    this.restarts++;
  }
  async getStats() {
    return new Map<string, object>([
      ['t', { type: 'transport', selectedCandidatePairId: 'p' }],
      ['p', { type: 'candidate-pair', id: 'p', localCandidateId: 'l', remoteCandidateId: 'r', currentRoundTripTime: 0.02 }],
      ['l', { type: 'local-candidate', candidateType: this.localType, address: '198.51.100.1', port: 50000, protocol: 'udp', relayProtocol: 'udp' }],
      ['r', { type: 'remote-candidate', candidateType: 'srflx', address: '203.0.113.7', port: 40000, protocol: 'udp' }],
    ]);
  }
}

const links: PeerLink[] = [];
afterEach(() => links.splice(0).forEach((link) => link.close()));

async function openLink(options: { polite: boolean; localType?: 'relay' | 'srflx'; iceTransportPolicy?: RTCIceTransportPolicy }) {
  const [ada, bob] = await twoParties(options.polite);
  const clock = new ManualClock();
  const connections: OpeningConnection[] = [];
  const link = new PeerLink({
    ...linkBetween(ada, bob),
    remoteCertificate: bob.session.certificate,
    port: { sendSignal: () => true, sendRelay: () => true, relayWritable: () => true, relayMaxFrameBytes: () => 256 * 1024 },
    config: { ...DEFAULT_LINK_CONFIG, iceTransportPolicy: options.iceTransportPolicy ?? 'all' },
    createPeerConnection: () => {
      const pc = new OpeningConnection(options.localType ?? 'relay');
      connections.push(pc);
      return pc as unknown as RTCPeerConnection;
    },
    offersFirst: true,
    clock,
  });
  links.push(link);
  expect(link.polite).toBe(options.polite);
  link.start();
  await new Promise((resolve) => setTimeout(resolve, 10)); // the offer is made
  connections[0]!.open();
  await new Promise((resolve) => setTimeout(resolve, 10)); // the path is read from getStats
  return { link, clock, pc: connections[0]! };
}

describe('a link on TURN tries once for a direct pair', () => {
  it(`the impolite side restarts ICE ${PATH_UPGRADE_AFTER_MS / 1000} s after settling on TURN, once per connection`, async () => {
    const { link, clock, pc } = await openLink({ polite: false });
    expect(link.snapshot().state).toBe('turn');
    clock.advance(PATH_UPGRADE_AFTER_MS - 1);
    expect(pc.restarts).toBe(0);
    clock.advance(1);
    expect(pc.restarts).toBe(1);
    expect(link.snapshot().history.some((h) => h.event === 'ice-restart' && /direct pair/.test(h.detail))).toBe(true);
    clock.advance(10 * 60_000); // still on TURN: no second try on this connection
    expect(pc.restarts).toBe(1);
    expect(link.snapshot().state).toBe('turn'); // the TURN pair carries on
  });

  it('not on the polite side (the impolite one does it), not on a direct path, not when the settings ask for TURN', async () => {
    for (const options of [{ polite: true }, { polite: false, localType: 'srflx' as const }, { polite: false, iceTransportPolicy: 'relay' as const }]) {
      const { clock, pc } = await openLink(options);
      clock.advance(10 * 60_000);
      expect(pc.restarts, JSON.stringify(options)).toBe(0);
    }
  });
});
