/** What every PeerLink test in Node starts from: two identities with sessions, and the link options naming them. */
import { createIdentity, ed25519Sign, signedMessage, type SecretIdentity } from '../../../src-shared/identity';
import { createSession, type SessionSecrets } from '../../../src-shared/session-certificate';
import type { PeerLinkOptions } from '../../../src-renderer/engine/link/link-types';
import { DEFAULT_LINK_CONFIG, PeerLink } from '../../../src-renderer/engine/link/peer-link';
import { ManualClock } from './manual-clock';
import { OpeningConnection } from './stub-connection';

export interface Party {
  identity: SecretIdentity;
  session: SessionSecrets;
}

/** Two consoles' identities and sessions; `polite` orders them so that the first is (or is not) the polite side. */
export async function twoParties(polite?: boolean): Promise<[Party, Party]> {
  const identities = await Promise.all([createIdentity(), createIdentity()]);
  // The polite side is the one with the larger peer_id.
  if (polite !== undefined && identities[0].peerId > identities[1].peerId !== polite) identities.reverse();
  const parties = await Promise.all(identities.map(async (identity) => ({ identity, session: await createSession((body) => ed25519Sign(identity.signingSecretKey, signedMessage('sessionKey', body))) })));
  return parties as [Party, Party];
}

let seq = 0;
/** The options that name `me`'s link to `peer` and let it sign (the rest is each test's own). */
export function linkBetween(me: Party, peer: Party): Pick<PeerLinkOptions, 'localPeerId' | 'remotePeerId' | 'remoteSigningKey' | 'projectId' | 'session' | 'sign' | 'nextSeq'> {
  return {
    localPeerId: me.identity.peerId,
    remotePeerId: peer.identity.peerId,
    remoteSigningKey: peer.identity.signingPublicKey,
    projectId: 'project-1',
    session: me.session,
    sign: (message) => ed25519Sign(me.session.signSecretKey, message),
    nextSeq: () => ++seq,
  };
}

/**
 * A PeerLink on a manual clock whose DataChannel is open over an OpeningConnection (a stub pair
 * of `localType`, RTT 20 ms), its first path read done; the caller closes it.
 */
export async function openLinkOnStub(options: { polite: boolean; localType?: 'host' | 'srflx' | 'relay'; iceTransportPolicy?: RTCIceTransportPolicy }): Promise<{ link: PeerLink; clock: ManualClock; pc: OpeningConnection }> {
  const [ada, bob] = await twoParties(options.polite);
  const clock = new ManualClock();
  const connections: OpeningConnection[] = [];
  const link = new PeerLink({
    ...linkBetween(ada, bob),
    remoteCertificate: bob.session.certificate,
    port: { sendSignal: () => true, sendRelay: () => true, relayWritable: () => true, relayMaxFrameBytes: () => 256 * 1024 },
    config: { ...DEFAULT_LINK_CONFIG, iceTransportPolicy: options.iceTransportPolicy ?? 'all' },
    createPeerConnection: () => {
      const pc = new OpeningConnection(options.localType);
      connections.push(pc);
      return pc as unknown as RTCPeerConnection;
    },
    offersFirst: true,
    clock,
  });
  link.start();
  await new Promise((resolve) => setTimeout(resolve, 10)); // the offer is made
  connections[0]!.open();
  await new Promise((resolve) => setTimeout(resolve, 10)); // the path is read from getStats
  return { link, clock, pc: connections[0]! };
}
