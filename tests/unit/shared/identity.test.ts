import { afterEach, describe, expect, it, vi } from 'vitest';
import nacl from 'tweetnacl';
import {
  createIdentity,
  derivePeerId,
  ed25519Sign,
  ed25519Verify,
  generateBoxKeyPair,
  generateSigningKeyPair,
  keyFingerprint,
  PEER_ID_PATTERN,
  signedMessage,
  toPublicIdentity,
  verifyPublicIdentity,
} from '../../../src-shared/identity';
import { utf8 } from '../../../src-shared/bytes';

const message = utf8.encode('a registry challenge');

describe('createIdentity', () => {
  it('creates 32-byte public keys and a 26-character base32 peer_id derived from the signing key', async () => {
    const identity = await createIdentity();
    expect(identity.signingPublicKey).toHaveLength(32);
    expect(identity.boxPublicKey).toHaveLength(32);
    expect(identity.boxSecretKey).toHaveLength(32);
    expect(identity.signingSecretKey).toHaveLength(64);
    expect(identity.boxKeySignature).toHaveLength(64);
    expect(identity.peerId).toMatch(/^[a-z2-7]{26}$/);
    expect(identity.peerId).toMatch(PEER_ID_PATTERN);
    expect(identity.peerId).toBe(derivePeerId(identity.signingPublicKey));
  });

  it('gives every console a different identity', async () => {
    const [a, b] = await Promise.all([createIdentity(), createIdentity()]);
    expect(a.peerId).not.toBe(b.peerId);
    expect(a.signingPublicKey).not.toEqual(b.signingPublicKey);
    expect(a.boxPublicKey).not.toEqual(b.boxPublicKey);
  });
});

describe('key pairs (WebCrypto where it can, JavaScript otherwise)', () => {
  afterEach(() => void vi.restoreAllMocks());

  const checkSigningPair = async ({ publicKey, secretKey }: { publicKey: Uint8Array; secretKey: Uint8Array }) => {
    expect(secretKey).toHaveLength(64);
    // tweetnacl's layout: seed ‖ public key, and the public key is the seed's
    expect(nacl.sign.keyPair.fromSeed(secretKey.slice(0, 32)).publicKey).toEqual(publicKey);
    expect(secretKey.slice(32)).toEqual(publicKey);
    expect(nacl.sign.detached.verify(message, await ed25519Sign(secretKey, message), publicKey)).toBe(true);
  };
  const checkBoxPairs = (a: { publicKey: Uint8Array; secretKey: Uint8Array }, b: { publicKey: Uint8Array; secretKey: Uint8Array }) => {
    expect(a.secretKey).toHaveLength(32);
    expect(nacl.scalarMult.base(a.secretKey)).toEqual(a.publicKey);
    expect(nacl.box.before(b.publicKey, a.secretKey)).toEqual(nacl.box.before(a.publicKey, b.secretKey));
  };

  it('makes Ed25519 pairs in tweetnacl’s layout, each one new', async () => {
    const generate = vi.spyOn(crypto.subtle, 'generateKey');
    const [a, b] = await Promise.all([generateSigningKeyPair(), generateSigningKeyPair()]);
    expect(generate).toHaveBeenCalledWith({ name: 'Ed25519' }, true, ['sign', 'verify']); // natively, here
    await checkSigningPair(a);
    expect(a.publicKey).not.toEqual(b.publicKey);
  });

  it('makes X25519 pairs that tweetnacl’s box agrees with', async () => {
    const generate = vi.spyOn(crypto.subtle, 'generateKey');
    const [a, b] = await Promise.all([generateBoxKeyPair(), generateBoxKeyPair()]);
    expect(generate).toHaveBeenCalledWith({ name: 'X25519' }, true, ['deriveBits']);
    checkBoxPairs(a, b);
    expect(a.publicKey).not.toEqual(b.publicKey);
  });

  it('falls back to JavaScript when WebCrypto cannot make the pair', async () => {
    vi.spyOn(crypto.subtle, 'generateKey').mockRejectedValue(new DOMException('not supported', 'NotSupportedError'));
    await checkSigningPair(await generateSigningKeyPair());
    checkBoxPairs(await generateBoxKeyPair(), await generateBoxKeyPair());
  });
});

describe('verifyPublicIdentity', () => {
  it('accepts a fresh identity', async () => {
    const identity = await createIdentity();
    expect(await verifyPublicIdentity(toPublicIdentity(identity))).toBe(true);
  });

  it('refuses an identity that claims another peer_id', async () => {
    const [identity, other] = await Promise.all([createIdentity(), createIdentity()]);
    expect(await verifyPublicIdentity({ ...toPublicIdentity(identity), peerId: other.peerId })).toBe(false);
  });

  it('refuses an identity whose box key was swapped for someone else’s', async () => {
    const [identity, other] = await Promise.all([createIdentity(), createIdentity()]);
    expect(await verifyPublicIdentity({ ...toPublicIdentity(identity), boxPublicKey: other.boxPublicKey })).toBe(false);
  });

  it('refuses an identity whose box-key signature is corrupted', async () => {
    const identity = await createIdentity();
    const corrupted = identity.boxKeySignature.slice();
    corrupted[10] = corrupted[10]! ^ 0x01;
    expect(await verifyPublicIdentity({ ...toPublicIdentity(identity), boxKeySignature: corrupted })).toBe(false);
  });
});

describe('Ed25519 signatures', () => {
  it('runs on native WebCrypto Ed25519 in this environment (so the interop tests exercise it)', async () => {
    const { publicKey } = nacl.sign.keyPair();
    await expect(
      crypto.subtle.importKey('raw', publicKey as BufferSource, { name: 'Ed25519' }, false, ['verify']),
    ).resolves.toBeDefined();
  });

  it('a signature from ed25519Sign verifies with tweetnacl', async () => {
    const { publicKey, secretKey } = nacl.sign.keyPair();
    const signature = await ed25519Sign(secretKey, message);
    expect(signature).toHaveLength(64);
    expect(nacl.sign.detached.verify(message, signature, publicKey)).toBe(true);
    // Ed25519 is deterministic: both implementations produce the same bytes.
    expect(signature).toEqual(nacl.sign.detached(message, secretKey));
  });

  it('a signature from tweetnacl verifies with ed25519Verify', async () => {
    const { publicKey, secretKey } = nacl.sign.keyPair();
    const signature = nacl.sign.detached(message, secretKey);
    expect(await ed25519Verify(publicKey, message, signature)).toBe(true);
  });

  it('does not verify a signature over a different message or by a different key', async () => {
    const signer = nacl.sign.keyPair();
    const other = nacl.sign.keyPair();
    const signature = await ed25519Sign(signer.secretKey, message);
    expect(await ed25519Verify(signer.publicKey, utf8.encode('another challenge'), signature)).toBe(false);
    expect(await ed25519Verify(other.publicKey, message, signature)).toBe(false);
  });

  it('is domain-separated: a box-key signature is not a registry-auth signature over the same bytes', async () => {
    const { publicKey, secretKey } = nacl.sign.keyPair();
    const payload = crypto.getRandomValues(new Uint8Array(32));
    const signature = await ed25519Sign(secretKey, signedMessage('boxKey', payload));
    expect(await ed25519Verify(publicKey, signedMessage('boxKey', payload), signature)).toBe(true);
    expect(await ed25519Verify(publicKey, signedMessage('registryAuth', payload), signature)).toBe(false);
    expect(await ed25519Verify(publicKey, payload, signature)).toBe(false);
  });

  it('returns false rather than throwing for a wrong-length key or signature', async () => {
    const { publicKey, secretKey } = nacl.sign.keyPair();
    const signature = await ed25519Sign(secretKey, message);
    await expect(ed25519Verify(publicKey.subarray(0, 31), message, signature)).resolves.toBe(false);
    await expect(ed25519Verify(new Uint8Array(33), message, signature)).resolves.toBe(false);
    await expect(ed25519Verify(publicKey, message, signature.subarray(0, 63))).resolves.toBe(false);
    await expect(ed25519Verify(publicKey, message, new Uint8Array(0))).resolves.toBe(false);
  });

  it('returns false rather than throwing for a 32-byte key that is not a valid point', async () => {
    const { secretKey } = nacl.sign.keyPair();
    const signature = await ed25519Sign(secretKey, message);
    await expect(ed25519Verify(new Uint8Array(32).fill(0xff), message, signature)).resolves.toBe(false);
  });
});

describe('keyFingerprint', () => {
  it('is stable for a key, has 6 groups of 4 base32 characters, and differs between keys', () => {
    const a = nacl.sign.keyPair().publicKey;
    const b = nacl.sign.keyPair().publicKey;
    const fingerprint = keyFingerprint(a);
    expect(fingerprint).toMatch(/^[a-z2-7]{4}( [a-z2-7]{4}){5}$/);
    expect(keyFingerprint(a.slice())).toBe(fingerprint);
    expect(keyFingerprint(b)).not.toBe(fingerprint);
  });
});
