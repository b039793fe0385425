/**
 * A SignalingClient in Node for registry tests: signing as `identity` (a new one by default), its
 * socket the agent's (`ws`). Options not given keep the client's own defaults; the caller starts it.
 */
import { createIdentity, ed25519Sign, signedMessage, type SecretIdentity } from '../../../src-shared/identity';
import { SignalingClient, type SignalingClientOptions } from '../../../src-renderer/engine/signaling-client';
import { createNodeSocket } from '../../../src-agent/websocket';

type Identity = Pick<SecretIdentity, 'signingPublicKey' | 'signingSecretKey' | 'boxPublicKey' | 'boxKeySignature'>;

export async function nodeSignalingClient(
  options: Pick<SignalingClientOptions, 'url' | 'invite'> & Partial<Omit<SignalingClientOptions, 'signingPublicKey' | 'boxPublicKey' | 'boxKeySignature' | 'signChallenge' | 'signEarlyHello'>> & { identity?: Identity },
): Promise<SignalingClient> {
  const { identity, ...rest } = options;
  const id = identity ?? (await createIdentity());
  return new SignalingClient({
    displayName: 'Ada',
    signingPublicKey: id.signingPublicKey,
    boxPublicKey: id.boxPublicKey,
    boxKeySignature: id.boxKeySignature,
    signChallenge: (nonce) => ed25519Sign(id.signingSecretKey, signedMessage('registryAuth', nonce)),
    signEarlyHello: (payload) => ed25519Sign(id.signingSecretKey, signedMessage('registryHello', payload)),
    createSocket: createNodeSocket,
    ...rest,
  });
}
