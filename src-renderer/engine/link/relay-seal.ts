/**
 * Sealing for the registry relay: NaCl box (X25519 + XSalsa20-Poly1305, tweetnacl) between the
 * two consoles' session keys. Each blob gets a fresh random 24-byte nonce (safe to pick at random
 * at XSalsa20's nonce size) and nonces seen recently are remembered, so a blob the registry
 * replays is rejected, not delivered twice. The registry sees only [version, key id, nonce, box].
 */
import nacl from 'tweetnacl';
import { concatBytes } from '../../../src-shared/bytes';

const VERSION = 1;
const KEY_ID_BYTES = 8;
const HEADER_BYTES = 1 + KEY_ID_BYTES + nacl.box.nonceLength;
/** Bytes a sealed blob adds to its plaintext. */
export const SEAL_OVERHEAD = HEADER_BYTES + nacl.box.overheadLength;
const REMEMBERED_NONCES = 8192;

export type OpenResult = { ok: true; plaintext: Uint8Array } | { ok: false; code: 'RELAY_TAMPERED' | 'RELAY_REPLAYED' | 'RELAY_STALE_KEY'; message: string };

export class RelaySeal {
  /** X25519 in JavaScript costs a millisecond or more: done when the relay is first used, not on the way to the first offer. */
  private sharedKey: Uint8Array | undefined;
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];

  constructor(
    private readonly localPublicKey: Uint8Array,
    private readonly localSecretKey: Uint8Array,
    private readonly remotePublicKey: Uint8Array,
  ) {}

  private get shared(): Uint8Array {
    return (this.sharedKey ??= nacl.box.before(this.remotePublicKey, this.localSecretKey));
  }

  seal(plaintext: Uint8Array): Uint8Array {
    const nonce = nacl.randomBytes(nacl.box.nonceLength);
    const box = nacl.box.after(plaintext, nonce, this.shared);
    return concatBytes(new Uint8Array([VERSION]), this.localPublicKey.subarray(0, KEY_ID_BYTES), nonce, box);
  }

  open(blob: Uint8Array): OpenResult {
    if (blob.length < SEAL_OVERHEAD || blob[0] !== VERSION) return { ok: false, code: 'RELAY_TAMPERED', message: 'relay blob is malformed' };
    const keyId = blob.subarray(1, 1 + KEY_ID_BYTES);
    if (!keyId.every((b, i) => b === this.remotePublicKey[i])) {
      return { ok: false, code: 'RELAY_STALE_KEY', message: 'relay blob was sealed with another session key of this peer' };
    }
    const nonce = blob.subarray(1 + KEY_ID_BYTES, HEADER_BYTES);
    const plaintext = nacl.box.open.after(blob.subarray(HEADER_BYTES), nonce, this.shared);
    if (!plaintext) return { ok: false, code: 'RELAY_TAMPERED', message: 'relay blob failed authentication (forged or altered)' };
    const nonceKey = String.fromCharCode(...nonce);
    if (this.seen.has(nonceKey)) return { ok: false, code: 'RELAY_REPLAYED', message: 'relay blob was already received (replay)' };
    this.seen.add(nonceKey);
    this.seenOrder.push(nonceKey);
    if (this.seenOrder.length > REMEMBERED_NONCES) this.seen.delete(this.seenOrder.shift()!);
    return { ok: true, plaintext };
  }
}
