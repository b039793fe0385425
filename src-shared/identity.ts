/**
 * Console identity: an Ed25519 signing key and an X25519 box key (tweetnacl formats), and the
 * peer_id derived from the signing key so that no console can claim another's id.
 *
 * Keys are made, and signatures made and checked, by the platform's WebCrypto (present in Node 20,
 * Chromium and Electron): native verify costs ~0.2 ms. Where a page has no WebCrypto (the web
 * console over plain http from another machine is not a secure context), Ed25519 falls back to
 * @noble/curves — ~1.3 ms a verify, against ~27 ms for tweetnacl's — checking as strictly as
 * WebCrypto (RFC 8032, no ZIP-215 leniency), so every console accepts the same signatures; X25519
 * and random bytes fall back to tweetnacl.
 */
import nacl from 'tweetnacl';
import { ed25519 } from '@noble/curves/ed25519.js';
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
  /** A hello sent with the upgrade, over its own time and salt (early-hello.ts). */
  registryHello: 'wsp/v1/registry-hello',
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
  const [signing, box] = await Promise.all([generateSigningKeyPair(), generateBoxKeyPair()]);
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


// --- Ed25519 over WebCrypto, with @noble/curves as the fallback ------------------------------

const subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle;
let nativeEd25519: boolean | undefined;

/** The public key of the all-zero seed: a valid point to probe WebCrypto with. */
const ED25519_PROBE_KEY = new Uint8Array([
  0x3b, 0x6a, 0x27, 0xbc, 0xce, 0xb6, 0xa4, 0x2d, 0x62, 0xa3, 0xa8, 0xd0, 0x2a, 0x6f, 0x0d, 0x73,
  0x65, 0x32, 0x15, 0x77, 0x1d, 0xe2, 0x43, 0xa6, 0x3a, 0xc0, 0x48, 0xa1, 0x8b, 0x59, 0xda, 0x29,
]);

async function hasNativeEd25519(): Promise<boolean> {
  if (nativeEd25519 === undefined) {
    try {
      await subtle!.importKey('raw', ED25519_PROBE_KEY as BufferSource, { name: 'Ed25519' }, false, ['verify']);
      nativeEd25519 = true;
    } catch {
      nativeEd25519 = false;
    }
  }
  return nativeEd25519;
}

/** One signature (a key used for several signs the message through createEd25519Signer instead). */
export function ed25519Sign(secretKey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  return createEd25519Signer(secretKey)(message);
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
    return cryptoKey ? new Uint8Array(await subtle!.sign('Ed25519', cryptoKey, message as BufferSource)) : ed25519.sign(message, secretKey.subarray(0, 32));
  };
}

/** Imported public keys, so that verifying many messages from one peer imports its key once. */
const verifyKeys = new Map<string, Promise<CryptoKey>>();
const MAX_CACHED_KEYS = 1024;

export async function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  // Once the probe has answered, the key's import starts in this call, not a few microtasks on:
  // a caller that starts checks and then does other work (a link's first connection) overlaps them.
  if (!(nativeEd25519 ?? (await hasNativeEd25519()))) return javascriptEd25519Verify(publicKey, message, signature);
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

/** Strict like WebCrypto's: a signature one console accepts, every other console accepts too. */
function javascriptEd25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false; // a malformed point is a failed verification, not a crash
  }
}

// --- X25519 over WebCrypto, with tweetnacl as the fallback ------------------------------------

let nativeX25519: Promise<boolean> | undefined;
/** The probe's answer once known, so that a derivation starts in its call (as ed25519Verify). */
let nativeX25519Known: boolean | undefined;
/** PKCS#8 prefixes of raw Ed25519 and X25519 private keys (RFC 8410). */
const ED25519_PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
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
  let shared: Uint8Array;
  if (nativeX25519Known ?? (await hasNativeX25519())) {
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

function hasNativeX25519(): Promise<boolean> {
  nativeX25519 ??= subtle
    ? subtle.importKey('raw', X25519_BASE_POINT as BufferSource, { name: 'X25519' }, false, []).then(
        () => (nativeX25519Known = true),
        () => (nativeX25519Known = false),
      )
    : Promise.resolve((nativeX25519Known = false));
  return nativeX25519;
}

// --- Key pairs: WebCrypto where the platform has it, JavaScript otherwise -----------------------
// Why: tweetnacl's key generation runs its field multiplication thousands of times, so V8 compiles
// that function while a console joins — 6–10 ms (Maglev) and ~60 ms (TurboFan) of a background
// thread, measured in Chromium, again and again as new sessions start — on the cores the first
// link setup needs (docs/BENCHMARKS.md, run 6).

export interface KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** An Ed25519 key pair in tweetnacl's layout: the secret key is seed ‖ public key. */
export async function generateSigningKeyPair(): Promise<KeyPair> {
  const native = (await hasNativeEd25519()) ? await nativeKeyPair('Ed25519', ['sign', 'verify'], ED25519_PKCS8_PREFIX) : undefined;
  if (native) return { publicKey: native.publicKey, secretKey: concatBytes(native.secret, native.publicKey) };
  const seed = nacl.randomBytes(32);
  const publicKey = ed25519.getPublicKey(seed);
  return { publicKey, secretKey: concatBytes(seed, publicKey) };
}

/** An X25519 key pair as tweetnacl's box keys: the secret key is the 32-byte scalar. */
export async function generateBoxKeyPair(): Promise<KeyPair> {
  const native = (await hasNativeX25519()) ? await nativeKeyPair('X25519', ['deriveBits'], X25519_PKCS8_PREFIX) : undefined;
  return native ? { publicKey: native.publicKey, secretKey: native.secret } : nacl.box.keyPair();
}

/** A key pair made by WebCrypto, its 32-byte secret read out of the PKCS#8 export; undefined if anything is off. */
async function nativeKeyPair(name: 'Ed25519' | 'X25519', usages: KeyUsage[], pkcs8Prefix: Uint8Array): Promise<{ publicKey: Uint8Array; secret: Uint8Array } | undefined> {
  try {
    const pair = (await subtle!.generateKey({ name }, true, usages)) as CryptoKeyPair;
    const [raw, pkcs8] = await Promise.all([subtle!.exportKey('raw', pair.publicKey), subtle!.exportKey('pkcs8', pair.privateKey)]);
    const der = new Uint8Array(pkcs8);
    const prefixOk = der.length === pkcs8Prefix.length + 32 && pkcs8Prefix.every((byte, i) => der[i] === byte);
    return raw.byteLength === 32 && prefixOk ? { publicKey: new Uint8Array(raw), secret: der.slice(pkcs8Prefix.length) } : undefined;
  } catch {
    return undefined;
  }
}
