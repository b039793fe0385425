/**
 * A member's keys as the registry keeps them for as long as the console stays: the byte fields of
 * its PeerInfo (signing key, box key and its signature, session certificate) packed into one
 * string of one byte per character. Four typed arrays cost ~1 KB of V8 heap per console (each an
 * object, an ArrayBuffer and its store); the string, ~150 bytes, in V8's heap rather than in a
 * malloc'd buffer among the socket read buffers. They are unpacked only for a welcome, a
 * peer_joined or the cluster: a few times in a console's life, not per frame.
 */
import type { PeerInfo } from '../../src-shared/protocol/signaling';

type KeyFields = Pick<PeerInfo, 'signing_key' | 'box_key' | 'box_key_sig' | 'session_cert'>;

const SIGNING = 32;
const BOX = 32;
const BOX_SIG = 64;
const FIXED = SIGNING + BOX + BOX_SIG;
/** A first byte says whether a session certificate follows (an empty one is still one). */
const NO_CERT = 0;
const CERT = 1;

export function packKeys(info: KeyFields): string {
  const parts = [Uint8Array.of(info.session_cert ? CERT : NO_CERT), info.signing_key, info.box_key, info.box_key_sig, ...(info.session_cert ? [info.session_cert] : [])];
  if (info.signing_key.length !== SIGNING || info.box_key.length !== BOX || info.box_key_sig.length !== BOX_SIG) {
    throw new Error('packKeys: a key of the wrong length (the hello schema should have refused it)');
  }
  return Buffer.concat(parts).toString('latin1');
}

export function unpackKeys(packed: string): KeyFields {
  const all = Buffer.from(packed, 'latin1');
  const bytes = all.subarray(1);
  return {
    signing_key: bytes.subarray(0, SIGNING),
    box_key: bytes.subarray(SIGNING, SIGNING + BOX),
    box_key_sig: bytes.subarray(SIGNING + BOX, FIXED),
    ...(all[0] === CERT ? { session_cert: bytes.subarray(FIXED) } : {}),
  };
}
