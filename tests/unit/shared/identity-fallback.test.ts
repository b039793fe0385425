/**
 * Identity crypto where the platform has no WebCrypto — a web console opened over plain http from
 * another machine is not a secure context. The module is loaded again with `crypto.subtle` gone,
 * and what it makes and checks is compared with the native (WebCrypto) module and with tweetnacl.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import nacl from 'tweetnacl';
import { webcrypto } from 'node:crypto';
import * as native from '../../../src-shared/identity';
import { utf8 } from '../../../src-shared/bytes';

type Identity = typeof native;
let plain: Identity;
const message = utf8.encode('a registry challenge');
/** The order of Ed25519's group, little-endian: a signature's S plus this is the same signature, malleated. */
const L = [0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];

beforeAll(async () => {
  vi.resetModules();
  vi.stubGlobal('crypto', { getRandomValues: (array: Uint8Array) => webcrypto.getRandomValues(array) });
  try {
    plain = await import('../../../src-shared/identity');
    // the module decides once, on first use, that there is no WebCrypto
    await plain.ed25519Verify(new Uint8Array(32), message, new Uint8Array(64));
    await plain.x25519(new Uint8Array(32), new Uint8Array(32));
  } finally {
    vi.unstubAllGlobals();
  }
});

describe('identity without WebCrypto', () => {
  it('does everything in JavaScript: WebCrypto is not called', async () => {
    const calls = (['generateKey', 'importKey', 'sign', 'verify', 'deriveBits'] as const).map((name) => vi.spyOn(crypto.subtle, name));
    const { publicKey, secretKey } = await plain.generateSigningKeyPair();
    await plain.ed25519Verify(publicKey, message, await plain.ed25519Sign(secretKey, message));
    const box = await plain.generateBoxKeyPair();
    await plain.x25519(box.secretKey, nacl.box.keyPair().publicKey);
    for (const call of calls) expect(call).not.toHaveBeenCalled();
    vi.restoreAllMocks();
  });

  it('makes key pairs in the same layout, which the native side accepts', async () => {
    const signing = await plain.generateSigningKeyPair();
    expect(nacl.sign.keyPair.fromSeed(signing.secretKey.slice(0, 32)).publicKey).toEqual(signing.publicKey);
    const box = await plain.generateBoxKeyPair();
    expect(nacl.scalarMult.base(box.secretKey)).toEqual(box.publicKey);
    const identity = await plain.createIdentity();
    expect(await native.verifyPublicIdentity(plain.toPublicIdentity(identity))).toBe(true);
  });

  it('signs what WebCrypto and tweetnacl verify, and verifies what they sign', async () => {
    const { publicKey, secretKey } = nacl.sign.keyPair();
    const ours = await plain.ed25519Sign(secretKey, message);
    expect(ours).toEqual(nacl.sign.detached(message, secretKey)); // Ed25519 is deterministic
    expect(await native.ed25519Verify(publicKey, message, ours)).toBe(true);
    expect(await plain.createEd25519Signer(secretKey)(message)).toEqual(ours);
    expect(await plain.ed25519Verify(publicKey, message, await native.ed25519Sign(secretKey, message))).toBe(true);
  });

  it('refuses what WebCrypto refuses: another message, another key, a malleated signature, a bad point', async () => {
    const { publicKey, secretKey } = nacl.sign.keyPair();
    const signature = nacl.sign.detached(message, secretKey);
    expect(await plain.ed25519Verify(publicKey, utf8.encode('another message'), signature)).toBe(false);
    expect(await plain.ed25519Verify(nacl.sign.keyPair().publicKey, message, signature)).toBe(false);
    // S + L verifies in tweetnacl; WebCrypto refuses it, and so must every console, or they would disagree about a signed entry
    const malleated = signature.slice();
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const sum = malleated[32 + i]! + L[i]! + carry;
      malleated[32 + i] = sum & 0xff;
      carry = sum >> 8;
    }
    expect(nacl.sign.detached.verify(message, malleated, publicKey)).toBe(true);
    expect(await native.ed25519Verify(publicKey, message, malleated)).toBe(false);
    expect(await plain.ed25519Verify(publicKey, message, malleated)).toBe(false);
    const notAPoint = new Uint8Array(32).fill(0xff);
    expect(await plain.ed25519Verify(notAPoint, message, signature)).toBe(false);
    expect(await plain.ed25519Verify(publicKey.subarray(0, 31), message, signature)).toBe(false);
  });

  it('agrees X25519 keys with the native side', async () => {
    const [a, b] = [nacl.box.keyPair(), nacl.box.keyPair()];
    expect(await plain.x25519(a.secretKey, b.publicKey)).toEqual(await native.x25519(b.secretKey, a.publicKey));
  });
});
