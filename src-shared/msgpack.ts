/**
 * MessagePack encoding through one shared Encoder. The library's `encode()` makes a new Encoder,
 * with a 2 KiB buffer, on every call: in a burst of link setups that was ~40 ms of each page's
 * main thread, more than the encoding itself (docs/BENCHMARKS.md, "Burst"). `Encoder.encode`
 * returns a copy, so no two results share bytes, and guards against re-entry itself.
 */
import { Encoder } from '@msgpack/msgpack';

/** An encoder whose buffer grew past this for one large value is dropped rather than kept. */
const KEEP_BUFFER_BYTES = 64 * 1024;

let encoder = new Encoder();

export function encode(value: unknown): Uint8Array {
  const bytes = encoder.encode(value);
  if (bytes.byteLength > KEEP_BUFFER_BYTES) encoder = new Encoder();
  return bytes;
}
