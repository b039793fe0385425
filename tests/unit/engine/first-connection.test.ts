/**
 * A link's first connection on the cold path (no connection prepared ahead): begun the moment the
 * peer is known, beside the checks of its identity and session certificate, and its offer made as
 * soon as its channel exists. Nothing goes to the peer before the checks pass, and a peer that
 * fails them gets nothing: the connection begun for it is closed. In Node with stub connections;
 * the timings are in docs/BENCHMARKS.md (peerjs_cold_setup).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerInfo, SignalType } from '../../../src-shared/protocol/signaling';
import type { SignalingClient } from '../../../src-renderer/engine/signaling-client';
import { LinkManager } from '../../../src-renderer/engine/link-manager';
import { PeerLink } from '../../../src-renderer/engine/link/peer-link';
import { encodeCertificate } from '../../../src-shared/session-certificate';
import { FakeClient, FakeRegistry } from './fake-registry';
import { StubConnection } from './stub-connection';
import { linkBetween, twoParties, type Party } from './test-link';

/** A stub that, as a browser does, queues negotiationneeded a task after the channel is created, and records what was done to it. */
class RecordingConnection extends StubConnection {
  offersSet = 0;
  closed = false;
  override createDataChannel() {
    setTimeout(() => this.onnegotiationneeded?.(), 0);
    return super.createDataChannel();
  }
  override async setLocalDescription() {
    this.offersSet++;
    await super.setLocalDescription();
  }
  override close() {
    this.closed = true;
  }
}

class RecordingClient extends FakeClient {
  readonly signals: SignalType[] = [];
  override sendSignal(type?: SignalType): boolean {
    if (type) this.signals.push(type);
    return true;
  }
}

const managers: LinkManager[] = [];
const links: PeerLink[] = [];
afterEach(() => {
  managers.splice(0).forEach((m) => m.close());
  links.splice(0).forEach((l) => l.close());
});
const flushMicrotasks = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function presence(party: Party, name: string): PeerInfo {
  return {
    peer_id: party.identity.peerId,
    display_name: name,
    signing_key: party.identity.signingPublicKey,
    box_key: party.identity.boxPublicKey,
    box_key_sig: party.identity.boxKeySignature,
    session_cert: encodeCertificate(party.session.certificate),
    joined_at: Date.now(),
  };
}

/** Ada's manager, cold (nothing prepared ahead), in a project she is in; Bob is about to join. */
async function coldManager() {
  const [ada, bob] = await twoParties();
  const made: RecordingConnection[] = [];
  const client = new RecordingClient(new FakeRegistry(), presence(ada, 'Ada'));
  const manager = new LinkManager({
    client: client as unknown as SignalingClient,
    session: ada.session,
    prepareConnections: false,
    createPeerConnection: () => {
      const pc = new RecordingConnection();
      made.push(pc);
      return pc as unknown as RTCPeerConnection;
    },
  });
  managers.push(manager);
  client.fire('welcome', {
    type: 'welcome',
    protocol: 1,
    peer_id: ada.identity.peerId,
    project_id: 'p',
    peers: [],
    ice_servers: [],
    ice_servers_expire_at: 0,
    limits: { max_frame_bytes: 65536, frames_per_second: 50, burst: 200, heartbeat_ms: 15000 },
  });
  return { ada, bob, client, manager, made };
}

describe('a cold link’s first connection', () => {
  it('is begun, with its offer being set, the moment the peer is known; the offer leaves only once the peer has been checked', async () => {
    const { bob, client, manager, made } = await coldManager();
    client.fire('peer_joined', presence(bob, 'Bob'));
    // At once, while the peer's identity and certificate are being checked:
    expect(made).toHaveLength(1);
    expect(made[0]!.offersSet).toBe(1);
    expect(client.signals).toEqual([]);
    expect(manager.peerIds()).toEqual([]);
    // Once they pass: the link takes that connection, and its offer goes out (no second connection, no second offer).
    await expect.poll(() => client.signals).toContain('webrtc_offer');
    await new Promise((done) => setTimeout(done, 20)); // the browser's negotiationneeded has come and gone
    expect(made).toHaveLength(1);
    expect(made[0]!.offersSet).toBe(1);
    expect(client.signals.filter((s) => s === 'webrtc_offer')).toHaveLength(1);
    expect(made[0]!.closed).toBe(false);
  });

  it('is closed, and the peer sent nothing, when its identity does not hold together', async () => {
    const { bob, client, manager, made } = await coldManager();
    const untrusted: string[] = [];
    manager.on('untrusted', ({ peerId }) => untrusted.push(peerId));
    const forged = presence(bob, 'Bob');
    forged.box_key_sig = new Uint8Array(64).fill(7); // box key not signed by the identity key
    client.fire('peer_joined', forged);
    expect(made).toHaveLength(1);
    await expect.poll(() => untrusted).toEqual([bob.identity.peerId]);
    expect(made[0]!.closed).toBe(true);
    expect(client.signals).toEqual([]);
    expect(manager.peerIds()).toEqual([]);
  });
});

describe('an offering link without a prepared connection', () => {
  it('makes its offer when it creates its channel, not a task later on negotiationneeded, and only one', async () => {
    const [ada, bob] = await twoParties();
    const pc = new RecordingConnection();
    const sent: SignalType[] = [];
    const link = new PeerLink({
      ...linkBetween(ada, bob),
      port: { sendSignal: (type) => (sent.push(type), true), sendRelay: () => true, relayWritable: () => true, relayMaxFrameBytes: () => 256 * 1024 },
      offersFirst: true,
      createPeerConnection: () => pc as unknown as RTCPeerConnection,
    });
    links.push(link);
    link.start();
    await flushMicrotasks();
    expect(pc.offersSet).toBe(1); // before the queued negotiationneeded
    await new Promise((done) => setTimeout(done, 20));
    expect(pc.offersSet).toBe(1); // which then finds the offer made and does nothing
    expect(sent.filter((s) => s === 'webrtc_offer')).toHaveLength(1);
  });
});
