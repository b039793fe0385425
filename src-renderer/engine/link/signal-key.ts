/**
 * The key two console sessions share to authenticate the signaling they send each other:
 *
 *   key = HKDF-SHA256(X25519(own session box secret, peer session box key),
 *                     info = "wsp/v1/signal-key" ‖ 0 ‖ lower box key ‖ higher box key)
 *
 * Both box keys sit in session certificates signed by the consoles' identity keys, so the registry
 * can neither compute the key nor substitute one. A message then carries an HMAC-SHA256 under it
 * (signal-codec.ts says over what), which costs microseconds on the calling thread: an Ed25519
 * signature or check is a trip to WebCrypto's thread, and on a busy renderer the four on the way to
 * a link's first open (offer and answer, each signed and checked) took about 3 ms of a 30 ms setup
 * (docs/BENCHMARKS.md). The key is derived once per pair of sessions, beside the certificate check
 * that comes before a link anyway. A sender that does not know the recipient's session yet signs.
 */
import nacl from 'tweetnacl';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { compareBytes, concatBytes, utf8 } from '../../../src-shared/bytes';
import { x25519 } from '../../../src-shared/identity';
import type { SessionCertificate, SessionSecrets } from '../../../src-shared/session-certificate';

/** A message names the recipient session its MAC was made for by this much of that session's box key. */
export const RECIPIENT_KEY_ID_BYTES = 8;
const MAC_BYTES = 32;

export interface SignalKey {
  /** The peer session's box key this key was made with. */
  peerBoxKey: Uint8Array;
  key: Uint8Array;
}

/** The key shared with the peer session of this certificate; undefined for an unusable box key. */
export async function deriveSignalKey(own: SessionSecrets, peer: SessionCertificate): Promise<SignalKey | undefined> {
  const shared = await x25519(own.boxSecretKey, peer.boxKey);
  if (!shared) return undefined;
  const ownBoxKey = own.certificate.boxKey;
  const [lower, higher] = compareBytes(ownBoxKey, peer.boxKey) <= 0 ? [ownBoxKey, peer.boxKey] : [peer.boxKey, ownBoxKey];
  const info = concatBytes(utf8.encode('wsp/v1/signal-key\0'), lower, higher);
  return { peerBoxKey: peer.boxKey, key: await hkdfSha256(shared, info) };
}

/**
 * HKDF-SHA256 to 32 bytes, without salt (RFC 5869: a hash-length of zeros, which HMAC pads to the
 * same key as none). WebCrypto's where there is one: a new page's first derivations in JavaScript
 * ran cold code on the main thread, once per peer (~3 ms each in a burst of joins,
 * docs/BENCHMARKS.md); a page without WebCrypto (plain http from another machine) derives here.
 */
async function hkdfSha256(secret: Uint8Array, info: Uint8Array): Promise<Uint8Array> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle) {
    try {
      const key = await subtle.importKey('raw', secret as BufferSource, 'HKDF', false, ['deriveBits']);
      return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: info as BufferSource }, key, 256));
    } catch {
      // a WebCrypto without HKDF: the same derivation below
    }
  }
  return hkdf(sha256, secret, undefined, info, 32);
}

/** How a session is named in a message MAC'd for it. */
export function recipientKeyId(boxKey: Uint8Array): Uint8Array {
  return boxKey.subarray(0, RECIPIENT_KEY_ID_BYTES);
}

/** Each key's HMAC with its padded key already hashed in: a MAC then costs the message alone. */
const keyedMacs = new WeakMap<Uint8Array, ReturnType<typeof hmac.create>>();

export function signalMac(key: SignalKey, message: Uint8Array): Uint8Array {
  let keyed = keyedMacs.get(key.key);
  if (!keyed) keyedMacs.set(key.key, (keyed = hmac.create(sha256, key.key)));
  return keyed.clone().update(message).digest();
}

/** Constant-time, so a forger learns nothing from how long a refusal took. */
export function signalMacValid(key: SignalKey, message: Uint8Array, mac: Uint8Array): boolean {
  return mac.length === MAC_BYTES && nacl.verify(signalMac(key, message), mac);
}
