/**
 * MessagePack encoding that leaves large binaries where they are: the same bytes as
 * @msgpack/msgpack's `encode(value)`, as a list of segments whose concatenation is that encoding,
 * in which every Uint8Array of at least `minReferencedBytes` inside plain arrays and objects is the
 * caller's own array rather than a copy. A link sends a 64 MiB message without first copying it
 * into a 128 MiB encoder buffer (30–60 ms before the first byte leaves, on a loaded machine); the
 * reliable stream copies each chunk once, into its frame, as it cuts it.
 *
 * Everything that holds no large binary is encoded by @msgpack/msgpack itself, so its encoding is
 * the library's by construction; only the headers of the arrays and maps on the way to a large
 * binary, and the binary's own header, are written here (msgpack-segments.test.ts checks them
 * against the library).
 */
import { encode } from '../../../src-shared/msgpack';
import { concatBytes } from '../../../src-shared/bytes';

/** Below this a binary is copied like everything else: referencing it would save nothing. */
export const MIN_REFERENCED_BYTES = 64 * 1024;
/** Large binaries deeper than this are copied (the walk stays cheap and shallow). */
const MAX_DEPTH = 8;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Whether `value` holds a Uint8Array of at least `min` bytes along plain arrays and objects. */
function holdsLarge(value: unknown, min: number, depth: number): boolean {
  if (value instanceof Uint8Array) return value.byteLength >= min;
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) return value.some((item) => holdsLarge(item, min, depth + 1));
  if (isPlainObject(value)) return Object.keys(value).some((key) => holdsLarge(value[key], min, depth + 1));
  return false;
}

/** A header: type byte for the small form, or the 16- and 32-bit forms' type bytes and length. */
function header(size: number, fix: number | undefined, fixLimit: number, t16: number, t32: number): Uint8Array {
  if (fix !== undefined && size < fixLimit) return Uint8Array.of(fix + size);
  const bytes = new Uint8Array(size < 0x10000 ? 3 : 5);
  const view = new DataView(bytes.buffer);
  if (size < 0x10000) {
    bytes[0] = t16;
    view.setUint16(1, size);
  } else {
    bytes[0] = t32;
    view.setUint32(1, size);
  }
  return bytes;
}

/**
 * The encoding of `value` as segments (see above); one segment when it holds no large binary.
 * The segments reference the caller's binaries: they must not change until they are sent.
 */
export function encodeSegments(value: unknown, minReferencedBytes = MIN_REFERENCED_BYTES): Uint8Array[] {
  if (!holdsLarge(value, minReferencedBytes, 0)) return [encode(value)];
  const segments: Uint8Array[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (!holdsLarge(v, minReferencedBytes, depth)) {
      segments.push(encode(v));
    } else if (v instanceof Uint8Array) {
      segments.push(v.byteLength < 0x100 ? Uint8Array.of(0xc4, v.byteLength) : header(v.byteLength, undefined, 0, 0xc5, 0xc6), v);
    } else if (Array.isArray(v)) {
      segments.push(header(v.length, 0x90, 16, 0xdc, 0xdd));
      for (const item of v) walk(item, depth + 1);
    } else {
      const object = v as Record<string, unknown>;
      const keys = Object.keys(object);
      segments.push(header(keys.length, 0x80, 16, 0xde, 0xdf));
      for (const key of keys) {
        segments.push(encode(key));
        walk(object[key], depth + 1);
      }
    }
  };
  walk(value, 0);
  return merge(segments, minReferencedBytes);
}

/** Joins runs of small segments (headers, small values) into one, leaving large binaries alone. */
function merge(segments: Uint8Array[], min: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  const flush = () => {
    if (run.length === 1) out.push(run[0]!);
    else if (run.length > 1) out.push(concatBytes(...run));
    run = [];
  };
  for (const segment of segments) {
    if (segment.length >= min) {
      flush();
      out.push(segment);
    } else {
      run.push(segment);
    }
  }
  flush();
  return out;
}
