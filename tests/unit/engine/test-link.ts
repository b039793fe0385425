/** What every PeerLink test in Node starts from: two identities with sessions, and the link options naming them. */
import { createIdentity, ed25519Sign, signedMessage, type SecretIdentity } from '../../../src-shared/identity';
import { createSession, type SessionSecrets } from '../../../src-shared/session-certificate';
import type { PeerLinkOptions } from '../../../src-renderer/engine/link/link-types';

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
