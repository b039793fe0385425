/**
 * Console identity: an Ed25519 signing key and an X25519 box key (tweetnacl formats), and the
 * peer_id derived from the signing key so that no console can claim another's id.
 *
 * Signing and verifying use the platform's native Ed25519 (WebCrypto, present in Node 20,
 * Chromium and Electron): tweetnacl's JavaScript verify costs ~29 ms, native ~0.2 ms, and the
 * registry verifies one signature per connection. tweetnacl remains the key generator and the
 * fallback where WebCrypto lacks Ed25519.
 */
import nacl from 'tweetnacl';
import { compareBytes, concatBytes, toBase32, toBase64Url, utf8 } from './bytes';

export interface PublicIdentity {
  peerId: string;
  signingPublicKey: Uint8Array; // 32 bytes, Ed25519
  boxPublicKey: Uint8Array; // 32 bytes, X25519
  boxKeySignature: Uint8Array; // 64 bytes: the signing key's signature over the box key
}

export interface SecretIdentity extends PublicIdentity {
  signingSecretKey: Uint8Array; // 64 bytes, tweetnacl layout (seed ‖ public key)
  boxSecretKey: Uint8Array; // 32 bytes
}

export const PEER_ID_BYTES = 16;
export const PEER_ID_PATTERN = /^[a-z2-7]{26}$/;

/** Domain-separation prefixes: a signature made for one purpose is never valid for another. */
export const SIGNATURE_CONTEXT = {
  registryAuth: 'wsp/v1/registry-auth',
  boxKey: 'wsp/v1/box-key',
  /** A console session's certificate (its signaling and relay keys), signed by the identity key. */
  sessionKey: 'wsp/v1/session-key',
  /** One signaling message, signed by the session's signaling key. */
  signal: 'wsp/v1/signal',
  /** One signaling message, authenticated by the key two sessions share (signal-key.ts). */
  signalMac: 'wsp/v1/signal-mac',
  /** One workstream log entry, signed by its author's identity key. */
  workstreamEntry: 'wsp/v1/workstream-entry',
} as const;
export type SignaturePurpose = keyof typeof SIGNATURE_CONTEXT;

/** peer_id = base32(first 16 bytes of SHA-512(signing public key)): 26 characters. */
export function derivePeerId(signingPublicKey: Uint8Array): string {
  return toBase32(nacl.hash(signingPublicKey).subarray(0, PEER_ID_BYTES));
}

/** The exact bytes a signature for `purpose` covers. */
export function signedMessage(purpose: SignaturePurpose, payload: Uint8Array): Uint8Array {
  return concatBytes(utf8.encode(SIGNATURE_CONTEXT[purpose] + '\0'), payload);
}

export async function createIdentity(): Promise<SecretIdentity> {
  const signing = nacl.sign.keyPair();
  const box = nacl.box.keyPair();
  const boxKeySignature = await ed25519Sign(signing.secretKey, signedMessage('boxKey', box.publicKey));
  return {
    peerId: derivePeerId(signing.publicKey),
    signingPublicKey: signing.publicKey,
    signingSecretKey: signing.secretKey,
    boxPublicKey: box.publicKey,
    boxSecretKey: box.secretKey,
    boxKeySignature,
  };
}

export function toPublicIdentity(identity: SecretIdentity): PublicIdentity {
  const { peerId, signingPublicKey, boxPublicKey, boxKeySignature } = identity;
  return { peerId, signingPublicKey, boxPublicKey, boxKeySignature };
}

/** Checks that a claimed identity is self-consistent: id from key, box key signed by that key. */
export async function verifyPublicIdentity(identity: PublicIdentity): Promise<boolean> {
  if (derivePeerId(identity.signingPublicKey) !== identity.peerId) return false;
  return ed25519Verify(
    identity.signingPublicKey,
    signedMessage('boxKey', identity.boxPublicKey),
    identity.boxKeySignature,
  );
}

/** A short, human-comparable fingerprint of a signing key: 6 groups of 4 base32 characters. */
export function keyFingerprint(signingPublicKey: Uint8Array): string {
  const digest = toBase32(nacl.hash(concatBytes(utf8.encode('wsp/v1/fingerprint\0'), signingPublicKey)));
  return (digest.slice(0, 24).match(/.{4}/g) ?? []).join(' ');
}

/**
 * A safety code for a pair of consoles: the same on both sides (the keys are sorted), so two people
 * can read it to each other out of band. 20 digits in groups of five.
 */
export function safetyCode(keyA: Uint8Array, keyB: Uint8Array): string {
  const [first, second] = compareBytes(keyA, keyB) <= 0 ? [keyA, keyB] : [keyB, keyA];
  const digest = nacl.hash(concatBytes(utf8.encode('wsp/v1/safety-code\0'), first, second));
  let digits = '';
  for (let i = 0; digits.length < 20; i += 4) {
    const chunk = ((digest[i]! << 24) | (digest[i + 1]! << 16) | (digest[i + 2]! << 8) | digest[i + 3]!) >>> 0;
    digits += String(chunk % 100_000).padStart(5, '0');
  }
  return (digits.match(/.{5}/g) ?? []).join(' ');
}


// --- Ed25519 over WebCrypto, with tweetnacl as the fallback -----------------------------------

const subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle;
let nativeEd25519: boolean | undefined;

async function hasNativeEd25519(): Promise<boolean> {
  if (nativeEd25519 === undefined) {
    try {
      const probe = nacl.sign.keyPair.fromSeed(new Uint8Array(32));
      await subtle!.importKey('raw', probe.publicKey as BufferSource, { name: 'Ed25519' }, false, ['verify']);
      nativeEd25519 = true;
    } catch {
      nativeEd25519 = false;
    }
  }
  return nativeEd25519;
}

export async function ed25519Sign(secretKey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  if (!(await hasNativeEd25519())) return nacl.sign.detached(message, secretKey);
  const key = await subtle!.importKey(
    'jwk',
    { kty: 'OKP', crv: 'Ed25519', d: toBase64Url(secretKey.subarray(0, 32)), x: toBase64Url(secretKey.subarray(32)) },
    { name: 'Ed25519' },
    false,
    ['sign'],
  );
  return new Uint8Array(await subtle!.sign('Ed25519', key, message as BufferSource));
}

/**
 * A signer for one secret key that imports it into WebCrypto once: signing on a hot path
 * (every signaling message) then costs the signature alone.
 */
export function createEd25519Signer(secretKey: Uint8Array): (message: Uint8Array) => Promise<Uint8Array> {
  let key: Promise<CryptoKey | undefined> | undefined;
  return async (message) => {
    key ??= hasNativeEd25519().then((native) =>
      native
        ? subtle!.importKey(
            'jwk',
            { kty: 'OKP', crv: 'Ed25519', d: toBase64Url(secretKey.subarray(0, 32)), x: toBase64Url(secretKey.subarray(32)) },
            { name: 'Ed25519' },
            false,
            ['sign'],
          )
        : undefined,
    );
    const cryptoKey = await key;
    return cryptoKey ? new Uint8Array(await subtle!.sign('Ed25519', cryptoKey, message as BufferSource)) : nacl.sign.detached(message, secretKey);
  };
}

/** Imported public keys, so that verifying many messages from one peer imports its key once. */
const verifyKeys = new Map<string, Promise<CryptoKey>>();
const MAX_CACHED_KEYS = 1024;

export async function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  if (!(await hasNativeEd25519())) return nacl.sign.detached.verify(message, signature, publicKey);
  try {
    const id = toBase64Url(publicKey);
    let key = verifyKeys.get(id);
    if (!key) {
      if (verifyKeys.size >= MAX_CACHED_KEYS) verifyKeys.delete(verifyKeys.keys().next().value!);
      key = subtle!.importKey('raw', publicKey as BufferSource, { name: 'Ed25519' }, false, ['verify']);
      verifyKeys.set(id, key);
      key.catch(() => verifyKeys.delete(id));
    }
    return await subtle!.verify('Ed25519', await key, signature as BufferSource, message as BufferSource);
  } catch {
    return false; // a malformed point is a failed verification, not a crash
  }
}

// --- X25519 over WebCrypto, with tweetnacl as the fallback ------------------------------------

let nativeX25519: Promise<boolean> | undefined;
/** PKCS#8 prefix of a raw X25519 private key (RFC 8410). */
const X25519_PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
/** A session's secret key is imported once, however many peers it derives keys with. */
const x25519SecretKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();
const X25519_BASE_POINT = new Uint8Array(32);
X25519_BASE_POINT[0] = 9;

/**
 * The X25519 shared secret of a secret key and a peer's public key (32 bytes, the same on both
 * sides), or undefined for a public key of small order (an all-zero result: nothing secret).
 * Native where the platform has it: tweetnacl's costs ~0.5 ms of the calling thread.
 */
export async function x25519(secretKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array | undefined> {
  if (secretKey.length !== 32 || publicKey.length !== 32) return undefined;
  nativeX25519 ??= subtle
    ? subtle.importKey('raw', X25519_BASE_POINT as BufferSource, { name: 'X25519' }, false, []).then(
        () => true,
        () => false,
      )
    : Promise.resolve(false);
  let shared: Uint8Array;
  if (await nativeX25519) {
    try {
      let ownKey = x25519SecretKeys.get(secretKey);
      if (!ownKey) {
        ownKey = subtle!.importKey('pkcs8', concatBytes(X25519_PKCS8_PREFIX, secretKey) as BufferSource, { name: 'X25519' }, false, ['deriveBits']);
        x25519SecretKeys.set(secretKey, ownKey);
      }
      const [privateKey, peerKey] = await Promise.all([ownKey, subtle!.importKey('raw', publicKey as BufferSource, { name: 'X25519' }, false, [])]);
      shared = new Uint8Array(await subtle!.deriveBits({ name: 'X25519', public: peerKey }, privateKey, 256));
    } catch {
      return undefined; // WebCrypto refuses small-order points itself
    }
  } else {
    shared = nacl.scalarMult(secretKey, publicKey);
  }
  return shared.some((b) => b !== 0) ? shared : undefined;
}
