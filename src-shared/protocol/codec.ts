/** MessagePack framing with schema validation: bytes in, a typed frame or a coded error out. */
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { z } from '../zod';
import { PEER_ID_PATTERN } from '../identity';
import { MAX_SIGNAL_PAYLOAD_BYTES, clientFrameSchema, serverFrameSchema, type ClientFrame, type ServerFrame } from './signaling';

export type DecodeResult<T> =
  | { ok: true; frame: T }
  | { ok: false; code: 'BAD_FRAME'; message: string; type?: string };

// Bounds stop a small frame from expanding into a huge object graph while decoding.
const decoder = new Decoder({ maxStrLength: 64 * 1024, maxBinLength: 1024 * 1024, maxArrayLength: 4096, maxMapLength: 64 });

// One encoder for every frame: msgpack's `encode()` builds a new Encoder (and its 2 KiB buffer) per
// call, about half of the ~4.5 µs the registry spent encoding each relayed frame (found with
// bench/capacity.bench.ts). `Encoder.encode` returns a copy, so no two frames share bytes, and it
// guards against re-entry itself. Its buffer grows to the largest frame encoded (a relay frame,
// at most ~1 MiB) and is kept: one per process.
const encoder = new Encoder();

export function encodeFrame(frame: ClientFrame | ServerFrame): Uint8Array {
  return encoder.encode(frame);
}

/**
 * The frame's bytes in the encoder's own buffer, valid only until the next encode: for a caller
 * that copies them at once into memory it allocates more cheaply. (Each `encodeFrame` result is a
 * new ArrayBuffer, whose allocation in V8 costs more than encoding a small frame: 3.4 µs against
 * 0.65 µs for a relayed candidate here.)
 */
export function encodeFrameTransient(frame: ClientFrame | ServerFrame): Uint8Array {
  return encoder.encodeSharedRef(frame);
}

function decodeWith<T>(schema: z.ZodType<T>, data: Uint8Array, fastPath?: (raw: unknown) => T | undefined): DecodeResult<T> {
  let raw: unknown;
  try {
    raw = decoder.decode(data);
  } catch (error) {
    return { ok: false, code: 'BAD_FRAME', message: `not MessagePack: ${(error as Error).message}` };
  }
  const fast = fastPath?.(raw);
  if (fast) return { ok: true, frame: fast };
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const type = typeof raw === 'object' && raw !== null && typeof (raw as { type?: unknown }).type === 'string'
    ? (raw as { type: string }).type
    : undefined;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  return { ok: false, code: 'BAD_FRAME', message: `invalid ${type ?? 'frame'}: ${where}${issue?.message ?? 'invalid'}`, type };
}

/**
 * A console's signal frame ({type: webrtc_*, to_peer_id, payload} and nothing else), checked as its
 * schema checks it, or undefined for the schema to decide (and word any refusal). This is most of
 * what the registry relays, one frame per read when consoles wait for each answer: zod's general
 * machinery took ~40 % of decoding one (docs/BENCHMARKS.md, run 7). tests/unit/shared/codec.test.ts
 * holds both to the same verdicts.
 */
function signalFrame(raw: unknown): ClientFrame | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { type, to_peer_id: to, payload } = raw as Record<string, unknown>;
  if (type !== 'webrtc_ice_candidate' && type !== 'webrtc_offer' && type !== 'webrtc_answer') return undefined;
  if (typeof to !== 'string' || !PEER_ID_PATTERN.test(to)) return undefined;
  if (!(payload instanceof Uint8Array) || payload.length > MAX_SIGNAL_PAYLOAD_BYTES) return undefined;
  // Any other key (a forged from_peer_id) is for the schema to strip.
  let keys = 0;
  for (const key in raw) if (Object.hasOwn(raw, key)) keys++;
  return keys === 3 ? { type, to_peer_id: to, payload } : undefined;
}

export const decodeClientFrame = (data: Uint8Array) => decodeWith<ClientFrame>(clientFrameSchema, data, signalFrame);
export const decodeServerFrame = (data: Uint8Array) => decodeWith<ServerFrame>(serverFrameSchema, data);

/** MessagePack's header of a map of 3 (fixmap) and of 4 entries. */
const FIXMAP_3 = 0x83;
const FIXMAP_4 = 0x84;

/**
 * What the registry puts before a signal's received entries when it forwards it (see
 * forwardSignal): a map-of-4 header and the sender's `from_peer_id` entry. Made once per sender.
 */
export function forwardPrefix(fromPeerId: string): Uint8Array {
  const entry = encoder.encode({ from_peer_id: fromPeerId }); // a map of 1, then the entry
  entry[0] = FIXMAP_4;
  return entry;
}

/**
 * A signal frame as the registry forwards it, from_peer_id added, without encoding it again:
 * `received` must be a frame decodeClientFrame accepted as a signal frame, and `prefix` the
 * sender's forwardPrefix. When `received` is a map of exactly 3 entries (type, to_peer_id,
 * payload: what every encoder of a valid signal writes; a fourth key would have been stripped by
 * the schema and leaves nothing to copy), the result is those entries after the prefix — the
 * frame encodeFrame would make, its entries in another order — in memory from `alloc`. Otherwise
 * undefined: the caller encodes the frame. Re-encoding three strings cost more than the copy.
 */
export function forwardSignal(received: Uint8Array, prefix: Uint8Array, alloc: (length: number) => Uint8Array): Uint8Array | undefined {
  if (received[0] !== FIXMAP_3) return undefined;
  const out = alloc(prefix.length + received.length - 1);
  out.set(prefix);
  out.set(received.subarray(1), prefix.length);
  return out;
}
