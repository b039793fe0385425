/** MessagePack framing with schema validation: bytes in, a typed frame or a coded error out. */
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { z } from '../zod';
import { PEER_ID_PATTERN } from '../identity';
import { MAX_SIGNAL_PAYLOAD_BYTES, clientFrameSchema, earlyHelloSchema, serverFrameSchema, type ClientFrame, type EarlyHelloFrame, type ServerFrame } from './signaling';

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

function decodeWith<T>(schema: z.ZodType<T>, data: Uint8Array): DecodeResult<T> {
  let raw: unknown;
  try {
    raw = decoder.decode(data);
  } catch (error) {
    return { ok: false, code: 'BAD_FRAME', message: `not MessagePack: ${(error as Error).message}` };
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const type = typeof raw === 'object' && raw !== null && typeof (raw as { type?: unknown }).type === 'string'
    ? (raw as { type: string }).type
    : undefined;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  return { ok: false, code: 'BAD_FRAME', message: `invalid ${type ?? 'frame'}: ${where}${issue?.message ?? 'invalid'}`, type };
}

/** A peer_id's length: PEER_ID_PATTERN is 26 base32 letters. */
const PEER_ID_LENGTH = 26;
/** MessagePack's header of a map of 3 (fixmap) and of 4 entries. */
const FIXMAP_3 = 0x83;
const FIXMAP_4 = 0x84;
/** MessagePack bin 8 and bin 16 headers (a signal payload, at most 32 KiB, is one of these). */
const BIN_8 = 0xc4;
const BIN_16 = 0xc5;

/** The `payload` key as an encoder writes it (a fixstr), between to_peer_id's bytes and the payload's. */
const PAYLOAD_KEY = encoder.encode('payload');
/**
 * Each signal type's entries as an encoder writes them (after the map header), up to the bytes of
 * to_peer_id: taken from this module's encoder, not written by hand.
 */
const SIGNAL_HEADS = (['webrtc_offer', 'webrtc_answer', 'webrtc_ice_candidate'] as const).map((type) => {
  const sample = encoder.encode({ type, to_peer_id: 'a'.repeat(PEER_ID_LENGTH), payload: new Uint8Array(0) });
  // ... to_peer_id's bytes, the payload key, a bin 8 header and its length 0.
  return { type, head: sample.subarray(1, sample.length - PEER_ID_LENGTH - PAYLOAD_KEY.length - 2) };
});
/** from_peer_id's key and its value's header, as an encoder writes them: a forwarded signal's first entry. */
const FROM_HEAD = (() => {
  const sample = encoder.encode({ from_peer_id: 'a'.repeat(PEER_ID_LENGTH) });
  return sample.subarray(1, sample.length - PEER_ID_LENGTH);
})();

function startsWith(data: Uint8Array, at: number, bytes: Uint8Array): boolean {
  if (data.length < at + bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (data[at + i] !== bytes[i]) return false;
  return true;
}

/** The PEER_ID_LENGTH bytes from `at` as a peer_id, if they are one. */
function readPeerId(data: Uint8Array, at: number): string | undefined {
  if (data.length < at + PEER_ID_LENGTH) return undefined;
  // ASCII bytes only: as UTF-8 they are these characters, and the pattern admits nothing else.
  for (let i = at; i < at + PEER_ID_LENGTH; i++) if (data[i]! >= 0x80) return undefined;
  // (apply, not a spread: a spread iterates the bytes one by one, ~2 % of the registry's CPU.)
  const id = String.fromCharCode.apply(null, data.subarray(at, at + PEER_ID_LENGTH) as unknown as number[]);
  return PEER_ID_PATTERN.test(id) ? id : undefined;
}

/** A signal's type, to_peer_id and payload entries from `at` to the end of `data`, as an encoder writes them. */
function readSignalEntries(data: Uint8Array, at: number): { type: (typeof SIGNAL_HEADS)[number]['type']; to: string; payload: Uint8Array } | undefined {
  const signal = SIGNAL_HEADS.find((candidate) => startsWith(data, at, candidate.head));
  if (!signal) return undefined;
  const idStart = at + signal.head.length;
  const idEnd = idStart + PEER_ID_LENGTH;
  if (!startsWith(data, idEnd, PAYLOAD_KEY)) return undefined;
  let payloadAt = idEnd + PAYLOAD_KEY.length;
  let length: number;
  if (data[payloadAt] === BIN_8 && data.length > payloadAt + 1) {
    length = data[payloadAt + 1]!;
    payloadAt += 2;
  } else if (data[payloadAt] === BIN_16 && data.length > payloadAt + 2) {
    length = (data[payloadAt + 1]! << 8) | data[payloadAt + 2]!;
    payloadAt += 3;
  } else return undefined;
  if (payloadAt + length !== data.length || length > MAX_SIGNAL_PAYLOAD_BYTES) return undefined;
  const to = readPeerId(data, idStart);
  return to === undefined ? undefined : { type: signal.type, to, payload: data.subarray(payloadAt) };
}

/**
 * A console's signal frame read straight from its bytes when they are exactly what an encoder
 * writes for one (a map of type, to_peer_id and payload, in this order, as fixstr keys and values
 * and a bin 8 or 16 payload, and nothing after), with the schema's checks: PEER_ID_PATTERN, the
 * payload's size. Signals are most of what the registry relays, one frame per read when consoles
 * wait for each answer, and decoding one (MessagePack, its two strings, then zod) was ~7 % of the
 * registry's CPU per frame (docs/BENCHMARKS.md, run 7); here the type is one of three known byte
 * strings and the peer_id 26 ASCII bytes. Anything else (another form of the same map included) is
 * undefined: the decoder and the schema take it, and word any refusal, as before.
 * tests/unit/shared/codec.test.ts holds this to their verdicts, over mutated frames too.
 */
export function readSignalFrame(data: Uint8Array): ClientFrame | undefined {
  if (data[0] !== FIXMAP_3) return undefined;
  const signal = readSignalEntries(data, 1);
  return signal && { type: signal.type, to_peer_id: signal.to, payload: signal.payload };
}

/**
 * The same for a signal as the registry forwards it (writeForwardedSignal: from_peer_id first,
 * then the sender's entries): on a console in a burst of joins, decoding each one and checking it
 * with the schema was ~5 % of the page's JavaScript (docs/BENCHMARKS.md, "Burst").
 */
export function readForwardedSignal(data: Uint8Array): ServerFrame | undefined {
  if (data[0] !== FIXMAP_4 || !startsWith(data, 1, FROM_HEAD)) return undefined;
  const fromAt = 1 + FROM_HEAD.length;
  const signal = readSignalEntries(data, fromAt + PEER_ID_LENGTH);
  const from = readPeerId(data, fromAt);
  if (!signal || from === undefined) return undefined;
  return { type: signal.type, from_peer_id: from, to_peer_id: signal.to, payload: signal.payload };
}

export function decodeClientFrame(data: Uint8Array): DecodeResult<ClientFrame> {
  const signal = readSignalFrame(data);
  return signal ? { ok: true, frame: signal } : decodeWith<ClientFrame>(clientFrameSchema, data);
}
export function decodeServerFrame(data: Uint8Array): DecodeResult<ServerFrame> {
  const signal = readForwardedSignal(data);
  return signal ? { ok: true, frame: signal } : decodeWith<ServerFrame>(serverFrameSchema, data);
}
export const decodeEarlyHelloFrame = (data: Uint8Array) => decodeWith<EarlyHelloFrame>(earlyHelloSchema, data);


/**
 * What the registry puts before a signal's received entries when it forwards it (see
 * forwardSignal): a map-of-4 header and the sender's `from_peer_id` entry. Made once per sender
 * and kept as a string of byte values (Latin-1): ~60 bytes in V8's heap, where a Uint8Array of
 * its own cost ~250 (the view, its ArrayBuffer, and the malloc'd bytes).
 */
export function forwardPrefix(fromPeerId: string): string {
  const entry = encoder.encode({ from_peer_id: fromPeerId }); // a map of 1, then the entry
  entry[0] = FIXMAP_4;
  return String.fromCharCode.apply(null, entry as unknown as number[]);
}

/**
 * A signal frame as the registry forwards it, from_peer_id added, without encoding it again:
 * `received` must be a frame decodeClientFrame accepted as a signal frame, and `prefix` the
 * sender's forwardPrefix. When `received` is a map of exactly 3 entries (type, to_peer_id,
 * payload: what every encoder of a valid signal writes; a fourth key would have been stripped by
 * the schema and leaves nothing to copy), the forwarded frame is those entries after the prefix —
 * the frame encodeFrame would make, its entries in another order — and this is its length (write
 * it with writeForwardedSignal). Otherwise undefined: the caller encodes the frame. Re-encoding
 * three strings cost more than the copy.
 */
export function forwardedSignalLength(received: Uint8Array, prefix: string): number | undefined {
  return received[0] === FIXMAP_3 ? prefix.length + received.length - 1 : undefined;
}

/** Writes the forwarded signal (see forwardedSignalLength) into `out` from `at`, its length on. */
export function writeForwardedSignal(out: Uint8Array, at: number, received: Uint8Array, prefix: string): void {
  // The received map header is overwritten by the prefix's last byte (no subarray to allocate).
  out.set(received, at + prefix.length - 1);
  for (let i = 0; i < prefix.length; i++) out[at + i] = prefix.charCodeAt(i);
}
