/**
 * A console session's certificate: the per-session Ed25519 key that signs signaling and the
 * per-session X25519 key that seals the relay, bound together with the session's start time and
 * signed once by the console's identity key. Peers verify it against the identity key they know,
 * so neither key can be substituted by the registry, and a newer start time tells a restart from a
 * replay of an older session.
 */
import { decode } from '@msgpack/msgpack';
import { encode } from './msgpack';
import { ed25519Verify, generateBoxKeyPair, generateSigningKeyPair, signedMessage } from './identity';

export interface SessionCertificate {
  signKey: Uint8Array; // Ed25519, 32 bytes
  boxKey: Uint8Array; // X25519, 32 bytes
  startedAt: number; // ms since epoch
  signature: Uint8Array; // by the identity key over signedMessage('sessionKey', certificateBody(...))
}

export interface SessionSecrets {
  certificate: SessionCertificate;
  signSecretKey: Uint8Array; // 64 bytes, tweetnacl layout
  boxSecretKey: Uint8Array; // 32 bytes
}

/**
 * How far a certificate's start time may be ahead of the certifier's clock. The renderer that asks
 * and the host that signs read the same machine's clock (the desktop's main process, or the web
 * console's own tab), so this only absorbs a clock read a moment apart. Kept small because a later
 * start time makes a session look newer: a compromised renderer that got one dated ahead would
 * make the real console's next session look older than it (refused as a replay) until that time.
 */
export const MAX_CERTIFICATE_AHEAD_MS = 2_000;
/** How old a certificate's start time may be when it is signed (keys are made between the two). */
export const MAX_CERTIFICATE_AGE_MS = 60_000;

export function certificateBody(signKey: Uint8Array, boxKey: Uint8Array, startedAt: number): Uint8Array {
  return encode([1, signKey, boxKey, startedAt]);
}

/** Parses a body the renderer asks main to certify; throws if it is anything else. */
export function parseCertificateBody(body: Uint8Array, now: number): { signKey: Uint8Array; boxKey: Uint8Array; startedAt: number } {
  const value = decode(body) as unknown;
  if (!Array.isArray(value) || value.length !== 4 || value[0] !== 1) throw new Error('not a session certificate body');
  const [, signKey, boxKey, startedAt] = value as [number, unknown, unknown, unknown];
  if (!(signKey instanceof Uint8Array) || signKey.length !== 32) throw new Error('session signing key must be 32 bytes');
  if (!(boxKey instanceof Uint8Array) || boxKey.length !== 32) throw new Error('session box key must be 32 bytes');
  if (typeof startedAt !== 'number' || !Number.isFinite(startedAt) || startedAt > now + MAX_CERTIFICATE_AHEAD_MS || startedAt < now - MAX_CERTIFICATE_AGE_MS) {
    throw new Error('session start time is not now');
  }
  return { signKey, boxKey, startedAt };
}

/** Makes this session's keys; `certify` is the host signing the body with the identity key. */
export async function createSession(certify: (body: Uint8Array) => Promise<Uint8Array>, now = Date.now()): Promise<SessionSecrets> {
  const [sign, box] = await Promise.all([generateSigningKeyPair(), generateBoxKeyPair()]);
  const signature = await certify(certificateBody(sign.publicKey, box.publicKey, now));
  return {
    certificate: { signKey: sign.publicKey, boxKey: box.publicKey, startedAt: now, signature },
    signSecretKey: sign.secretKey,
    boxSecretKey: box.secretKey,
  };
}

/** The certificate as bytes (for presence), and back; decoding never throws. */
export function encodeCertificate(c: SessionCertificate): Uint8Array {
  return encode([1, c.signKey, c.boxKey, c.startedAt, c.signature]);
}

export function decodeCertificate(bytes: Uint8Array): SessionCertificate | undefined {
  try {
    const value = decode(bytes) as unknown;
    if (!Array.isArray(value) || value.length !== 5 || value[0] !== 1) return undefined;
    const [, signKey, boxKey, startedAt, signature] = value as unknown[];
    const isBytes = (b: unknown, n: number): b is Uint8Array => b instanceof Uint8Array && b.length === n;
    if (!isBytes(signKey, 32) || !isBytes(boxKey, 32) || !isBytes(signature, 64) || typeof startedAt !== 'number') return undefined;
    return { signKey, boxKey, startedAt, signature };
  } catch {
    return undefined;
  }
}

export function verifyCertificate(certificate: SessionCertificate, identityKey: Uint8Array): Promise<boolean> {
  return ed25519Verify(
    identityKey,
    signedMessage('sessionKey', certificateBody(certificate.signKey, certificate.boxKey, certificate.startedAt)),
    certificate.signature,
  );
}
