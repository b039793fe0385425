/**
 * Ed25519 verification on the calling thread, for the registry's check of a hello. The shared
 * ed25519Verify (src-shared/identity.ts) goes through WebCrypto, which Node runs as a libuv
 * threadpool job: each admission then waited for a pool thread, behind every other job, and for
 * the event loop to take the result. Node's WebCrypto Ed25519 and `crypto.verify` are the same
 * OpenSSL verification, so the same signatures pass (tests/unit/registry/inline-checks.test.ts).
 */
import { createPublicKey, verify } from 'node:crypto';

export function ed25519VerifyInline(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
    return verify(null, message, key, signature);
  } catch {
    return false; // a malformed key is a failed verification, not a crash
  }
}
