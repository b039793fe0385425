import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';

import { RelaySeal, SEAL_OVERHEAD, type OpenResult } from '../../../src-renderer/engine/link/relay-seal';

// ---------------------------------------------------------------- harness

type KeyPair = nacl.BoxKeyPair;

/** A's sealer towards B and B's opener from A, over fresh session key pairs. */
function pair(a: KeyPair = nacl.box.keyPair(), b: KeyPair = nacl.box.keyPair()) {
  return { a, b, aToB: new RelaySeal(a.publicKey, a.secretKey, b.publicKey), bFromA: new RelaySeal(b.publicKey, b.secretKey, a.publicKey) };
}

const text = (s: string) => new TextEncoder().encode(s);

/** Whether `needle` occurs as a contiguous run in `haystack`. */
function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

function expectRefused(result: OpenResult, code: 'RELAY_TAMPERED' | 'RELAY_REPLAYED' | 'RELAY_STALE_KEY'): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.code).toBe(code);
  expect(result.message).toBeTruthy();
}

// Wire layout: [version (1), key id (8), nonce (24), box (16 + plaintext)].
const KEY_ID_START = 1;
const NONCE_START = 9;
const BOX_START = 9 + nacl.box.nonceLength;

// ---------------------------------------------------------------- round trip

describe('RelaySeal round trip', () => {
  it('B opens what A sealed and gets the same bytes back', () => {
    const { aToB, bFromA } = pair();
    for (const plaintext of [new Uint8Array(0), text('hello, relay'), nacl.randomBytes(20_000)]) {
      const opened = bFromA.open(aToB.seal(plaintext));
      expect(opened.ok).toBe(true);
      if (opened.ok) expect(opened.plaintext).toEqual(plaintext);
    }
  });

  it('works in both directions over the same pair of session keys', () => {
    const { a, b, aToB, bFromA } = pair();
    const bToA = new RelaySeal(b.publicKey, b.secretKey, a.publicKey);
    const aFromB = new RelaySeal(a.publicKey, a.secretKey, b.publicKey);
    const ping = aFromB.open(bToA.seal(text('pong')));
    const pong = bFromA.open(aToB.seal(text('ping')));
    expect(ping).toEqual({ ok: true, plaintext: text('pong') });
    expect(pong).toEqual({ ok: true, plaintext: text('ping') });
  });

  it('every seal of the same plaintext differs (fresh nonce) and never shows the plaintext', () => {
    const { aToB, bFromA } = pair();
    const plaintext = text('the secret payload that must not leak through the registry');
    const blobs = Array.from({ length: 50 }, () => aToB.seal(plaintext));
    const nonces = new Set(blobs.map((blob) => Array.from(blob.subarray(NONCE_START, BOX_START)).join(',')));
    expect(nonces.size).toBe(blobs.length);
    const wire = new Set(blobs.map((blob) => Array.from(blob).join(',')));
    expect(wire.size).toBe(blobs.length);
    for (const blob of blobs) {
      expect(contains(blob, plaintext)).toBe(false);
      // Even a short run of the plaintext does not show through.
      expect(contains(blob, plaintext.subarray(4, 16))).toBe(false);
    }
    // Distinct nonces, but each still opens to the same plaintext.
    for (const blob of blobs) expect(bFromA.open(blob)).toEqual({ ok: true, plaintext });
  });

  it('SEAL_OVERHEAD is exactly what a blob adds to its plaintext', () => {
    const { aToB } = pair();
    expect(SEAL_OVERHEAD).toBe(1 + 8 + nacl.box.nonceLength + nacl.box.overheadLength);
    for (const length of [0, 1, 100, 16_384]) expect(aToB.seal(new Uint8Array(length)).length - length).toBe(SEAL_OVERHEAD);
  });
});

// ---------------------------------------------------------------- tampering

describe('RelaySeal refuses altered blobs', () => {
  it('a flipped bit anywhere in the box is RELAY_TAMPERED', () => {
    const { aToB, bFromA } = pair();
    const blob = aToB.seal(text('twelve bytes'));
    for (let i = BOX_START; i < blob.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const altered = blob.slice();
        altered[i]! ^= 1 << bit;
        expectRefused(bFromA.open(altered), 'RELAY_TAMPERED');
      }
    }
    // None of the failed attempts consumed the nonce: the untouched blob still opens.
    expect(bFromA.open(blob)).toEqual({ ok: true, plaintext: text('twelve bytes') });
  });

  it('a flipped bit in the nonce is RELAY_TAMPERED', () => {
    const { aToB, bFromA } = pair();
    const blob = aToB.seal(text('nonce'));
    for (let i = NONCE_START; i < BOX_START; i++) {
      const altered = blob.slice();
      altered[i]! ^= 0x80;
      expectRefused(bFromA.open(altered), 'RELAY_TAMPERED');
    }
  });

  it('an altered key id is never delivered', () => {
    const { aToB, bFromA } = pair();
    const blob = aToB.seal(text('key id'));
    for (let i = KEY_ID_START; i < NONCE_START; i++) {
      const altered = blob.slice();
      altered[i]! ^= 0x01;
      expect(bFromA.open(altered).ok).toBe(false);
    }
  });

  it('a wrong version byte is RELAY_TAMPERED', () => {
    const { aToB, bFromA } = pair();
    const blob = aToB.seal(text('version'));
    for (const version of [0, 2, 255]) {
      const altered = blob.slice();
      altered[0] = version;
      expectRefused(bFromA.open(altered), 'RELAY_TAMPERED');
    }
  });

  it('a truncated blob is RELAY_TAMPERED, without throwing', () => {
    const { aToB, bFromA } = pair();
    const blob = aToB.seal(text('truncate me'));
    for (const length of [0, 1, 8, 9, BOX_START, SEAL_OVERHEAD - 1, SEAL_OVERHEAD, blob.length - 1]) {
      let result: OpenResult | undefined;
      expect(() => (result = bFromA.open(blob.subarray(0, length)))).not.toThrow();
      expectRefused(result!, 'RELAY_TAMPERED');
    }
  });

  it('bytes appended to a blob are RELAY_TAMPERED', () => {
    const { aToB, bFromA } = pair();
    const blob = aToB.seal(text('extend me'));
    const longer = new Uint8Array(blob.length + 1);
    longer.set(blob);
    expectRefused(bFromA.open(longer), 'RELAY_TAMPERED');
  });
});

// ---------------------------------------------------------------- replay, keys

describe('RelaySeal replay and key checks', () => {
  it('the same blob opened twice: the second is RELAY_REPLAYED', () => {
    const { aToB, bFromA } = pair();
    const blob = aToB.seal(text('once only'));
    expect(bFromA.open(blob)).toEqual({ ok: true, plaintext: text('once only') });
    expectRefused(bFromA.open(blob), 'RELAY_REPLAYED');
    expectRefused(bFromA.open(blob.slice()), 'RELAY_REPLAYED');
    // Other blobs still get through.
    expect(bFromA.open(aToB.seal(text('next')))).toEqual({ ok: true, plaintext: text('next') });
  });

  it('a blob sealed with another session key of the same peer is RELAY_STALE_KEY', () => {
    const b = nacl.box.keyPair();
    const aOld = nacl.box.keyPair();
    const aNew = nacl.box.keyPair();
    // B still knows A's old session key; A has moved on to a new one.
    const bFromOldA = new RelaySeal(b.publicKey, b.secretKey, aOld.publicKey);
    const newAToB = new RelaySeal(aNew.publicKey, aNew.secretKey, b.publicKey);
    expectRefused(bFromOldA.open(newAToB.seal(text('from the new key'))), 'RELAY_STALE_KEY');
    // And the other way round: B knows the new key, a blob from the old one arrives late.
    const bFromNewA = new RelaySeal(b.publicKey, b.secretKey, aNew.publicKey);
    const oldAToB = new RelaySeal(aOld.publicKey, aOld.secretKey, b.publicKey);
    expectRefused(bFromNewA.open(oldAToB.seal(text('late'))), 'RELAY_STALE_KEY');
    expect(bFromNewA.open(newAToB.seal(text('current')))).toEqual({ ok: true, plaintext: text('current') });
  });

  it('a third party holding only the public keys cannot open A→B blobs', () => {
    const { a, aToB } = pair();
    const registry = nacl.box.keyPair();
    // The registry knows A's (and B's) public key and has its own secret key, nothing more.
    const eavesdropper = new RelaySeal(registry.publicKey, registry.secretKey, a.publicKey);
    const secret = text('for B only');
    for (let i = 0; i < 10; i++) {
      const result = eavesdropper.open(aToB.seal(secret));
      expectRefused(result, 'RELAY_TAMPERED');
    }
  });

  it('a blob for B cannot be opened by C, another console A also talks to', () => {
    const a = nacl.box.keyPair();
    const b = nacl.box.keyPair();
    const c = nacl.box.keyPair();
    const aToB = new RelaySeal(a.publicKey, a.secretKey, b.publicKey);
    const cFromA = new RelaySeal(c.publicKey, c.secretKey, a.publicKey);
    expectRefused(cFromA.open(aToB.seal(text('B only'))), 'RELAY_TAMPERED');
  });

  it('after more than 8192 blobs, replays of recent blobs are still caught', () => {
    const { aToB, bFromA } = pair();
    const total = 8192 + 300;
    const blobs: Uint8Array[] = [];
    for (let i = 0; i < total; i++) {
      const blob = aToB.seal(new Uint8Array([i & 0xff, i >> 8]));
      blobs.push(blob);
      expect(bFromA.open(blob).ok).toBe(true);
    }
    // The most recent ones (well within the remembered window) are refused as replays.
    for (const index of [total - 1, total - 2, total - 100, total - 8000]) expectRefused(bFromA.open(blobs[index]!), 'RELAY_REPLAYED');
    // A fresh blob still opens after all that.
    expect(bFromA.open(aToB.seal(text('fresh')))).toEqual({ ok: true, plaintext: text('fresh') });
  });
});
