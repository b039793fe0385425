/**
 * Test harness page: runs the console's real engine in Chromium without the GUI, and exposes a
 * small API on `window.harness` for Playwright to drive it.
 */
import { createIdentity, ed25519Sign, signedMessage, type SecretIdentity } from '../../../src-shared/identity';
import { parseInvite } from '../../../src-shared/invite';
import { SignalingClient } from '../../../src-renderer/engine/signaling-client';
import { LinkManager } from '../../../src-renderer/engine/link-manager';
import { createSessionKeyPair, type LinkConfig, type LinkSnapshot } from '../../../src-renderer/engine/link/peer-link';

interface Received {
  count: number;
  /** Sequence numbers of `{ seq }` messages, in arrival order. */
  seqs: number[];
  /** SHA-256 (hex) of `{ blob }` messages. */
  blobs: string[];
}

let identity: SecretIdentity;
let client: SignalingClient;
let manager: LinkManager;
const received = new Map<string, Received>();
const errors: Array<{ peerId: string; code: string; message: string }> = [];
let maxBuffered = 0;

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const harness = {
  async join(link: string, name: string, config: Partial<LinkConfig> = {}): Promise<string> {
    identity = await createIdentity();
    const invite = parseInvite(link);
    const keys = createSessionKeyPair();
    const session = { ...keys, signature: await ed25519Sign(identity.signingSecretKey, signedMessage('sessionKey', keys.publicKey)) };
    client = new SignalingClient({
      url: invite.registryUrl,
      invite: invite.token,
      displayName: name,
      signingPublicKey: identity.signingPublicKey,
      boxPublicKey: identity.boxPublicKey,
      boxKeySignature: identity.boxKeySignature,
      signChallenge: (nonce) => ed25519Sign(identity.signingSecretKey, signedMessage('registryAuth', nonce)),
      backoff: { baseMs: 200, maxMs: 1000 },
    });
    manager = new LinkManager({ client, session, config });
    manager.on('message', ({ peerId, message }) => void record(peerId, message));
    manager.on('error', (error) => errors.push(error));
    client.start();
    return identity.peerId;
  },

  registryState: () => client.state.phase,
  peers: () => manager.peerIds(),
  snapshot: (peerId: string): LinkSnapshot | undefined => manager.snapshot(peerId),
  states: () => Object.fromEntries(manager.snapshots().map((s) => [s.peerId, s.state])),
  received: (peerId: string) => received.get(peerId) ?? { count: 0, seqs: [], blobs: [] },
  errors: () => errors,
  setBlockDirect: (block: boolean) => manager.setBlockDirect(block),
  maxBufferedAmount: () => maxBuffered,

  /** Sends `{ seq }` messages from..to (inclusive), optionally with a text body. */
  async sendSeq(peerId: string, from: number, to: number, text = ''): Promise<void> {
    for (let seq = from; seq <= to; seq++) await manager.send(peerId, { seq, text });
  },

  /** Sends `count` random blobs of `bytes` each and returns their SHA-256s; samples bufferedAmount. */
  async sendBlob(peerId: string, bytes: number): Promise<string> {
    const blob = new Uint8Array(bytes);
    for (let offset = 0; offset < bytes; offset += 65536) crypto.getRandomValues(blob.subarray(offset, Math.min(bytes, offset + 65536)));
    const hash = await sha256(blob);
    const channel = (manager as unknown as { links: Map<string, { link: { dcPath?: { channel: RTCDataChannel } } }> }).links.get(peerId)?.link.dcPath?.channel;
    const sampler = setInterval(() => (maxBuffered = Math.max(maxBuffered, channel?.bufferedAmount ?? 0)), 1);
    const originalSend = channel?.send.bind(channel);
    if (channel && originalSend) {
      // Sample right after every send: the highest the buffer ever gets.
      channel.send = ((data: ArrayBuffer) => {
        originalSend(data);
        maxBuffered = Math.max(maxBuffered, channel.bufferedAmount);
      }) as RTCDataChannel['send'];
    }
    try {
      await manager.send(peerId, { blob });
    } finally {
      clearInterval(sampler);
    }
    return hash;
  },

  /** Attacks, as a misbehaving peer: raw bytes on the DataChannel, or a relay blob under a wrong key. */
  rawDataChannelSend(peerId: string, bytes: number[]): void {
    const channel = (manager as unknown as { links: Map<string, { link: { dcPath?: { channel: RTCDataChannel } } }> }).links.get(peerId)?.link.dcPath?.channel;
    if (!channel) throw new Error('no DataChannel');
    channel.send(new Uint8Array(bytes));
  },
  forgedRelaySend(peerId: string, bytes: number[]): boolean {
    return client.sendRelay(peerId, new Uint8Array(bytes));
  },

  leave(): void {
    manager?.close();
    client?.stop();
  },
};

async function record(peerId: string, message: unknown): Promise<void> {
  let entry = received.get(peerId);
  if (!entry) received.set(peerId, (entry = { count: 0, seqs: [], blobs: [] }));
  entry.count++;
  const m = message as { seq?: number; blob?: Uint8Array };
  if (typeof m?.seq === 'number') entry.seqs.push(m.seq);
  if (m?.blob instanceof Uint8Array) entry.blobs.push(await sha256(m.blob));
}

(window as unknown as { harness: typeof harness }).harness = harness;
export type Harness = typeof harness;
