import { afterEach, describe, expect, it, vi } from 'vitest';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import nacl from 'tweetnacl';
import { createIdentity, ed25519Sign, signedMessage, x25519 } from '../../../src-shared/identity';
import { createSession, type SessionSecrets } from '../../../src-shared/session-certificate';
import { deriveSignalKey, recipientKeyId, signalMac, signalMacValid, type SignalKey } from '../../../src-renderer/engine/link/signal-key';
import { signalMacBytes } from '../../../src-renderer/engine/link/signal-codec';

async function session(): Promise<SessionSecrets> {
  const identity = await createIdentity();
  return createSession((body) => ed25519Sign(identity.signingSecretKey, signedMessage('sessionKey', body)));
}

const derive = async (own: SessionSecrets, peer: SessionSecrets): Promise<SignalKey> => (await deriveSignalKey(own, peer.certificate))!;
const message = (over: Partial<{ type: string; from: string; to: string; project: string; seq: number; recipient: Uint8Array; body: Uint8Array }> = {}) => {
  const m = { type: 'webrtc_offer', from: 'ada', to: 'bob', project: 'p', seq: 1, recipient: new Uint8Array(8).fill(1), body: new Uint8Array([1, 2, 3]), ...over };
  return signalMacBytes(m.type, m.from, m.to, m.project, m.seq, m.recipient, m.body);
};

describe('signal keys', () => {
  it('two sessions derive the same key, each from its own secret and the other’s certificate', async () => {
    const [ada, bob] = await Promise.all([session(), session()]);
    const [adaKey, bobKey] = await Promise.all([derive(ada, bob), derive(bob, ada)]);
    expect(Buffer.from(adaKey.key).toString('hex')).toBe(Buffer.from(bobKey.key).toString('hex'));
    expect(adaKey.peerBoxKey).toEqual(bob.certificate.boxKey);
    // and a MAC one makes, the other accepts
    expect(signalMacValid(bobKey, message(), signalMac(adaKey, message()))).toBe(true);
  });

  it('another pair of sessions (a third console, or a restarted one) has another key', async () => {
    const [ada, bob, eve] = await Promise.all([session(), session(), session()]);
    const adaBob = await derive(ada, bob);
    const eveBob = await derive(eve, bob);
    const bobAgain = await session();
    const adaBobAgain = await derive(ada, bobAgain);
    expect(adaBob.key).not.toEqual(eveBob.key);
    expect(adaBob.key).not.toEqual(adaBobAgain.key);
    // what Eve MACs for Bob does not pass as Ada's
    expect(signalMacValid(adaBob, message(), signalMac(eveBob, message()))).toBe(false);
  });

  it('a MAC covers every field: type, sender, recipient, project, sequence, recipient session and body', async () => {
    const [ada, bob] = await Promise.all([session(), session()]);
    const key = await derive(ada, bob);
    const mac = signalMac(key, message());
    expect(signalMacValid(key, message(), mac)).toBe(true);
    for (const change of [{ type: 'webrtc_answer' }, { from: 'bob' }, { to: 'ada' }, { project: 'q' }, { seq: 2 }, { recipient: new Uint8Array(8).fill(2) }, { body: new Uint8Array([1, 2, 4]) }]) {
      expect(signalMacValid(key, message(change), mac)).toBe(false);
    }
    const flipped = mac.slice();
    flipped[0]! ^= 1;
    expect(signalMacValid(key, message(), flipped)).toBe(false);
    expect(signalMacValid(key, message(), mac.subarray(0, 31))).toBe(false);
  });

  it('a certificate whose box key is a small-order point gives no key (its shared secret would be public)', async () => {
    const ada = await session();
    const bob = await session();
    expect(await deriveSignalKey(ada, { ...bob.certificate, boxKey: new Uint8Array(32) })).toBeUndefined();
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(await deriveSignalKey(ada, { ...bob.certificate, boxKey: one })).toBeUndefined();
  });

  it('native X25519 agrees with tweetnacl', async () => {
    const a = nacl.box.keyPair();
    const b = nacl.box.keyPair();
    expect(await x25519(a.secretKey, b.publicKey)).toEqual(nacl.scalarMult(a.secretKey, b.publicKey));
    expect(await x25519(a.secretKey, new Uint8Array(31))).toBeUndefined();
  });

  it('a session is named by the first 8 bytes of its box key', async () => {
    const ada = await session();
    expect(recipientKeyId(ada.certificate.boxKey)).toEqual(ada.certificate.boxKey.subarray(0, 8));
  });

  describe('where the work is done', () => {
    afterEach(() => vi.unstubAllGlobals());

    it('a page without WebCrypto’s HKDF derives the same key in JavaScript', async () => {
      const [ada, bob] = await Promise.all([session(), session()]);
      const native = await derive(ada, bob);
      vi.stubGlobal('crypto', { getRandomValues: (a: Uint8Array) => globalThis.crypto.getRandomValues(a), subtle: undefined });
      expect(globalThis.crypto.subtle).toBeUndefined();
      const javascript = await derive(ada, bob);
      expect(Buffer.from(javascript.key).toString('hex')).toBe(Buffer.from(native.key).toString('hex'));
    });

    it('a key’s MACs, one after another, are each the HMAC of their message alone', async () => {
      const [ada, bob] = await Promise.all([session(), session()]);
      const key = await derive(ada, bob);
      const messages = [message(), message({ seq: 2 }), message({ body: new Uint8Array(5000).fill(9) }), message()];
      for (const m of messages) expect(Buffer.from(signalMac(key, m)).toString('hex')).toBe(Buffer.from(hmac(sha256, key.key, m)).toString('hex'));
    });
  });
});
