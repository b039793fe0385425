/**
 * The transport-independent heart of a peer link. Application messages (Uint8Arrays of any size)
 * are cut into numbered DATA frames sent on whichever path is current (a WebRTC DataChannel, the
 * encrypted relay…); the receiver acknowledges them cumulatively, reorders, deduplicates and
 * reassembles them, so every message arrives exactly once and in order even when the sender
 * switches paths mid-stream and frames on the old path are lost, late or duplicated.
 *
 * Memory stays bounded: at most `windowBytes` of payload (and at most `maxReorderFrames` frames)
 * are unacknowledged at a time, `send()` applies backpressure beyond that, and the receiver keeps
 * at most `maxReorderFrames` out-of-order frames and one message of at most `maxMessageBytes`.
 *
 * Wire format (MessagePack arrays):
 * - DATA `[0, seq, more, chunk]`: seq starts at 1, +1 per frame; `more` is true when the message
 *   continues in seq + 1; chunk is bin. A 0-byte message is one frame with an empty chunk.
 * - ACK `[1, cumulativeSeq]`: every frame up to and including cumulativeSeq arrived (0 = none).
 *
 * Plain TypeScript (no Node or DOM APIs): runs in Chromium and in Node. Timers can be injected.
 *
 * Longer than ~450 lines on purpose: sender and receiver are one protocol (each frame's sequence
 * number, its acknowledgement, its retransmission and the window share the same counters), tested
 * as one in reliable-stream.test.ts; split, each half would need the other's internals.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { Emitter } from '../emitter';

/** Frame type codes (first element of every frame). */
export const FRAME_DATA = 0;
export const FRAME_ACK = 1;

/**
 * Bytes a DATA frame adds around its chunk: fixarray (1) + type (1) + seq as uint64 (9) + bool (1)
 * + bin32 header (5) = 17; 32 leaves room to spare. A path must accept chunkBytes + this.
 */
export const HEADER_ALLOWANCE = 32;
/** Default payload per DATA frame, so that a frame fits a 16 KiB DataChannel message. */
export const DEFAULT_CHUNK_BYTES = 16_384 - HEADER_ALLOWANCE;

export interface StreamPath {
  /** e.g. 'datachannel' or 'relay'. */
  readonly id: string;
  /** Largest frame this path accepts; must be >= chunkBytes + HEADER_ALLOWANCE. */
  readonly maxFrameBytes: number;
  /** False while the path's own buffer is full (e.g. bufferedAmount >= threshold). */
  canSend(): boolean;
  /**
   * Sends one frame. May throw: the stream then stops using this path until setPath is called
   * again. The frame may be sent again later (retransmission): do not mutate or transfer it. Its
   * buffer is reused once the frame is acknowledged, so a path that keeps the bytes beyond send()
   * copies them (RTCDataChannel.send does, in Chromium, Firefox and node-datachannel).
   */
  send(frame: Uint8Array): void;
}

export interface ReliableStreamOptions {
  /** Max bytes of sent-but-unacknowledged chunk payload; default 8 MiB. */
  windowBytes?: number;
  /** Largest message accepted when receiving (reassembled); default 64 MiB. */
  maxMessageBytes?: number;
  /** The receiver sends a cumulative ACK at most this long after receiving data; default 20. */
  ackDelayMs?: number;
  /**
   * ...but this long while a message is partly received and nothing waits out of order, since the
   * rest of it is on its way (and is ACKed every ackEveryFrames): fewer ACKs for each side to
   * handle in a bulk transfer, well within retransmitAfterMs; default 100. Only when ackEveryFrames
   * full frames are at most half the window (the sender must not run out of window waiting for
   * this ACK; both ends are expected to use the same options); otherwise ackDelayMs.
   */
  midMessageAckDelayMs?: number;
  /** ...or immediately after this many data frames since the last ACK; default 16. */
  ackEveryFrames?: number;
  /** Resend all unacked frames if no ACK progress for this long while unacked exist; default 1000. */
  retransmitAfterMs?: number;
  /**
   * Out-of-order frames kept while waiting for a gap to fill; default 1024. Also caps the number
   * of unacknowledged frames this side sends (both ends are expected to use the same options).
   */
  maxReorderFrames?: number;
  /** Payload bytes per DATA frame; default 16384 - 32. Every path must fit chunkBytes + HEADER_ALLOWANCE. */
  chunkBytes?: number;
  /**
   * A message's length in bytes (exact or a lower bound) read from its first chunk, asked for
   * messages of more than one frame: reassembly then copies each chunk into one buffer of that
   * size as it arrives, instead of concatenating them all once the last one is in (tens of
   * milliseconds at the end of a 64 MiB message). A wrong answer costs a copy, never correctness.
   * The buffer is allocated when the first chunk arrives, so a peer can make the receiver hold up
   * to maxMessageBytes with one frame (it can anyway, by sending that much). Default: none.
   */
  messageLength?: (firstChunk: Uint8Array) => number | undefined;
  /** Injectable timer, default setTimeout. */
  setTimer?: (fn: () => void, ms: number) => unknown;
  /** Default clearTimeout. */
  clearTimer?: (handle: unknown) => void;
}

export type StreamErrorCode = 'MALFORMED_FRAME' | 'MESSAGE_TOO_LARGE';

export type StreamEvents = {
  /** A whole message, exactly once, in order. */
  message: Uint8Array;
  /** Bad input from the peer; the stream keeps working. */
  error: { code: StreamErrorCode; message: string };
};

export interface ReliableStreamStats {
  /** Messages whose every frame has been handed to a path at least once. */
  messagesSent: number;
  /** Messages delivered through the 'message' event. */
  messagesReceived: number;
  /** Payload bytes handed to paths for the first time (retransmissions excluded). */
  bytesSent: number;
  /** Payload bytes of delivered messages. */
  bytesReceived: number;
  /** Payload bytes cut into frames and not yet acknowledged. */
  unackedBytes: number;
  /** Payload bytes of send() calls not yet cut into frames (waiting for the window). */
  queuedBytes: number;
  /** Frames sent again (path lost, path broken or retransmit timer). */
  retransmittedFrames: number;
  /** DATA frames received that had already been received. */
  duplicateFrames: number;
}

export type StreamFrame =
  | { type: typeof FRAME_DATA; seq: number; more: boolean; chunk: Uint8Array }
  | { type: typeof FRAME_ACK; cumulativeSeq: number };

export type StreamFrameDecodeResult = { ok: true; frame: StreamFrame } | { ok: false; message: string };

// Bounds keep a garbage frame from expanding into a large object graph while decoding.
const decoderOptions = { maxStrLength: 1024, maxArrayLength: 16, maxMapLength: 16, maxExtLength: 1024 };

/** Decodes and validates one stream frame; never throws. */
export function decodeStreamFrame(bytes: Uint8Array, decoder: Decoder = new Decoder(decoderOptions)): StreamFrameDecodeResult {
  let raw: unknown;
  try {
    raw = decoder.decode(bytes);
  } catch (error) {
    return { ok: false, message: `not MessagePack: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!Array.isArray(raw) || raw.length === 0) return { ok: false, message: 'not a non-empty array' };
  const items = raw as readonly unknown[];
  const type = items[0];
  if (type === FRAME_DATA) {
    if (items.length !== 4) return { ok: false, message: `DATA frame has ${items.length} elements, expected 4` };
    const [, seq, more, chunk] = items;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return { ok: false, message: 'DATA seq is not a positive integer' };
    if (typeof more !== 'boolean') return { ok: false, message: 'DATA more is not a boolean' };
    if (!(chunk instanceof Uint8Array)) return { ok: false, message: 'DATA chunk is not binary' };
    return { ok: true, frame: { type: FRAME_DATA, seq, more, chunk } };
  }
  if (type === FRAME_ACK) {
    if (items.length !== 2) return { ok: false, message: `ACK frame has ${items.length} elements, expected 2` };
    const cumulativeSeq = items[1];
    if (typeof cumulativeSeq !== 'number' || !Number.isSafeInteger(cumulativeSeq) || cumulativeSeq < 0) {
      return { ok: false, message: 'ACK seq is not a non-negative integer' };
    }
    return { ok: true, frame: { type: FRAME_ACK, cumulativeSeq } };
  }
  const shown = typeof type === 'number' || typeof type === 'boolean' || type === null ? String(type) : typeof type === 'string' ? JSON.stringify(type.slice(0, 32)) : typeof type;
  return { ok: false, message: `unknown frame type ${shown}` };
}

/**
 * A DATA frame `[0, seq, more, chunk]` with room for its chunk of `chunkLength` bytes at the end,
 * encoded as @msgpack/msgpack encodes it (smallest uint for seq, smallest bin header), so that the
 * chunk is copied once, straight from the message, rather than into an encoder and out again.
 * Written at the start of `into` (returned as a view of it) when given and large enough.
 */
export function encodeDataFrame(seq: number, more: boolean, chunkLength: number, into?: Uint8Array): Uint8Array {
  const seqBytes = seq < 0x80 ? 1 : seq < 0x100 ? 2 : seq < 0x10000 ? 3 : seq < 0x100000000 ? 5 : 9;
  const binBytes = chunkLength < 0x100 ? 2 : chunkLength < 0x10000 ? 3 : 5;
  const length = 2 + seqBytes + 1 + binBytes + chunkLength;
  const frame = into && into.length >= length ? into.subarray(0, length) : new Uint8Array(length);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.length);
  frame[0] = 0x94;
  frame[1] = FRAME_DATA;
  const seqType = [0, 0xcc, 0xcd, 0, 0xce, 0, 0, 0, 0xcf][seqBytes - 1]!;
  if (seqBytes === 1) frame[2] = seq;
  else frame[2] = seqType;
  if (seqBytes === 2) frame[3] = seq;
  else if (seqBytes === 3) view.setUint16(3, seq);
  else if (seqBytes === 5) view.setUint32(3, seq);
  else if (seqBytes === 9) view.setBigUint64(3, BigInt(seq));
  let at = 2 + seqBytes;
  frame[at++] = more ? 0xc3 : 0xc2;
  frame[at] = binBytes === 2 ? 0xc4 : binBytes === 3 ? 0xc5 : 0xc6;
  if (binBytes === 2) frame[at + 1] = chunkLength;
  else if (binBytes === 3) view.setUint16(at + 1, chunkLength);
  else view.setUint32(at + 1, chunkLength);
  return frame;
}

/**
 * Reads a DATA frame in the form encodeDataFrame writes (any uint for seq, any bin header) without
 * the general decoder, whose per-frame work shows in a receiver's profile; undefined for anything
 * else (including every malformed frame), which decodeStreamFrame then reads and judges as before.
 */
export function readDataFrame(bytes: Uint8Array): { seq: number; more: boolean; chunk: Uint8Array } | undefined {
  if (bytes.length < 6 || bytes[0] !== 0x94 || bytes[1] !== FRAME_DATA) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const t = bytes[2]!;
  let seq: number;
  let at: number;
  if (t < 0x80) [seq, at] = [t, 3];
  else if (t === 0xcc) [seq, at] = [bytes[3]!, 4];
  else if (t === 0xcd && bytes.length >= 5) [seq, at] = [view.getUint16(3), 5];
  else if (t === 0xce && bytes.length >= 7) [seq, at] = [view.getUint32(3), 7];
  else return undefined; // uint64 seq and everything else: the general path
  if (seq < 1 || at + 2 > bytes.length) return undefined;
  const b = bytes[at]!;
  if (b !== 0xc2 && b !== 0xc3) return undefined;
  const bin = bytes[at + 1]!;
  at += 2;
  let n: number;
  if (bin === 0xc4 && at + 1 <= bytes.length) [n, at] = [bytes[at]!, at + 1];
  else if (bin === 0xc5 && at + 2 <= bytes.length) [n, at] = [view.getUint16(at), at + 2];
  else if (bin === 0xc6 && at + 4 <= bytes.length) [n, at] = [view.getUint32(at), at + 4];
  else return undefined;
  if (at + n !== bytes.length) return undefined; // truncated or trailing bytes: the general path says which
  return { seq, more: b === 0xc3, chunk: bytes.subarray(at) };
}

interface OutFrame {
  readonly seq: number;
  readonly more: boolean;
  readonly payload: number;
  /** Encoded once when cut; resent as is. */
  readonly encoded: Uint8Array;
  /** Id of the path it was last handed to (undefined: never sent). */
  lastPath: string | undefined;
  /** Must be sent again (path lost or broken, retransmit timer). */
  resend: boolean;
  /** Times handed to a path. */
  sends: number;
}

interface PendingSend {
  /** The message, as one array or as segments to be sent one after the other. */
  readonly parts: readonly Uint8Array[];
  readonly length: number;
  /** Bytes cut so far; the next byte is parts[part][partOffset]. */
  offset: number;
  part: number;
  partOffset: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface InFrame {
  readonly more: boolean;
  readonly chunk: Uint8Array;
}

function positiveInt(name: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`ReliableStream: ${name} must be an integer >= ${min} (got ${v})`);
  return v;
}

export class ReliableStream extends Emitter<StreamEvents> {
  private readonly windowBytes: number;
  private readonly maxMessageBytes: number;
  private readonly ackDelayMs: number;
  private readonly midMessageAckDelayMs: number;
  private readonly ackEveryFrames: number;
  private readonly retransmitAfterMs: number;
  private readonly maxReorderFrames: number;
  private readonly chunkBytes: number;
  private readonly messageLength: ((firstChunk: Uint8Array) => number | undefined) | undefined;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly encoder = new Encoder();
  private readonly decoder = new Decoder(decoderOptions);

  private path: StreamPath | undefined;
  private closed = false;
  private pumping = false;
  private pumpAgain = false;

  // --- sending ---
  /** send() calls not fully cut into frames yet, in call order (from queueHead). */
  private queue: (PendingSend | undefined)[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  /** Unacked frames, seq ackedThrough + 1 at index outHead, contiguous. */
  private out: (OutFrame | undefined)[] = [];
  private outHead = 0;
  private ackedThrough = 0;
  /** Seq of the first frame never handed to a path (frames below it were sent at least once). */
  private freshSeq = 1;
  /** No frame below this seq is flagged for resend. */
  private resendFrom = 1;
  private unackedBytes = 0;
  private retransmitTimer: unknown;
  private retransmitArmed = false;
  /** Buffers of acknowledged full frames, for the next ones (recycle). */
  private spareFrames: Uint8Array[] = [];

  // --- receiving ---
  private expected = 1;
  private readonly reorder = new Map<number, InFrame>();
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  /** The message being received, when its length was known from its first chunk (messageLength); parts stays empty then. */
  private assembly: Uint8Array | undefined;
  /** Dropping the rest of a message that exceeded maxMessageBytes. */
  private discarding = false;
  private framesSinceAck = 0;
  private ackTimer: unknown;
  private ackArmed = false;
  /** The armed ACK timer is the short one (ackDelayMs). */
  private ackArmedShort = false;
  private ackPending = false;

  private counters = { messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0, retransmittedFrames: 0, duplicateFrames: 0 };

  constructor(options: ReliableStreamOptions = {}) {
    super();
    this.windowBytes = positiveInt('windowBytes', options.windowBytes, 8 * 1024 * 1024);
    this.maxMessageBytes = positiveInt('maxMessageBytes', options.maxMessageBytes, 64 * 1024 * 1024, 0);
    this.ackDelayMs = positiveInt('ackDelayMs', options.ackDelayMs, 20, 0);
    const midMessageAckDelayMs = positiveInt('midMessageAckDelayMs', options.midMessageAckDelayMs, Math.max(100, this.ackDelayMs), this.ackDelayMs);
    this.ackEveryFrames = positiveInt('ackEveryFrames', options.ackEveryFrames, 16);
    this.retransmitAfterMs = positiveInt('retransmitAfterMs', options.retransmitAfterMs, 1000);
    this.maxReorderFrames = positiveInt('maxReorderFrames', options.maxReorderFrames, 1024);
    this.chunkBytes = positiveInt('chunkBytes', options.chunkBytes, DEFAULT_CHUNK_BYTES);
    this.midMessageAckDelayMs = this.ackEveryFrames * this.chunkBytes * 2 <= this.windowBytes ? midMessageAckDelayMs : this.ackDelayMs;
    this.messageLength = options.messageLength;
    this.setTimer = options.setTimer ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>));
  }

  /** The path to send on from now on (undefined: none, queue until one is set). Nothing sent earlier is forgotten. */
  setPath(path: StreamPath | undefined): void {
    if (this.closed) return;
    if (path && !(path.maxFrameBytes >= this.chunkBytes + HEADER_ALLOWANCE)) {
      throw new Error(
        `ReliableStream: path '${path.id}' accepts frames of ${path.maxFrameBytes} bytes, but frames need up to ${this.chunkBytes + HEADER_ALLOWANCE} (chunkBytes ${this.chunkBytes} + ${HEADER_ALLOWANCE})`,
      );
    }
    this.path = path;
    this.pump();
  }

  /**
   * That path died: every unacked frame last sent on it is resent on the current path now (or when
   * one is set). If the current path has this id it is dropped too (a dead path cannot carry the
   * resends): to replace a path by a new one with the same id, call pathLost first, then setPath.
   */
  pathLost(pathId: string): void {
    if (this.closed) return;
    if (this.path?.id === pathId) this.path = undefined;
    this.markForResend((frame) => frame.lastPath === pathId);
    this.pump();
  }

  /**
   * Queues a message: one array, or segments that make it up one after the other (sent without
   * being joined first). Resolves once all of it has been cut into frames within the window
   * (backpressure); the caller must not modify it before then. Messages go out in call order.
   */
  send(message: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('stream closed'));
    const parts = message instanceof Uint8Array ? [message] : message;
    const length = parts.reduce((n, part) => n + part.length, 0);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ parts, length, offset: 0, part: 0, partOffset: 0, resolve, reject });
      this.queuedBytes += length;
      this.pump();
    });
  }

  /** A frame from the peer, on any path. Never throws on bad input: emits 'error' instead. */
  receive(frame: Uint8Array, pathId: string): void {
    if (this.closed) return;
    const data = readDataFrame(frame);
    if (data) return this.onData(data.seq, data.more, data.chunk);
    const decoded = decodeStreamFrame(frame, this.decoder);
    if (!decoded.ok) {
      this.emit('error', { code: 'MALFORMED_FRAME', message: `malformed frame on ${pathId}: ${decoded.message}` });
      return;
    }
    const f = decoded.frame;
    if (f.type === FRAME_ACK) this.onAck(f.cumulativeSeq, pathId);
    else this.onData(f.seq, f.more, f.chunk);
  }

  /** Sends what the window and the path allow; call when the path becomes writable again. */
  pump(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.pumpAgain = true; // re-entered from path.send (e.g. an ACK delivered synchronously)
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        if (this.ackPending && this.path) this.sendAck();
        // Frames are cut as the path takes them, and the rest of the window only once the path is
        // full: the first bytes of a large message go out without waiting for megabytes of frames
        // to be encoded ahead, and the path is refilled at once when it drains.
        this.transmit();
        this.fillWindow();
      } while (this.pumpAgain && !this.closed);
    } finally {
      this.pumping = false;
    }
  }

  stats(): ReliableStreamStats {
    return { ...this.counters, unackedBytes: this.unackedBytes, queuedBytes: this.queuedBytes };
  }

  /** Idempotent: clears timers, rejects pending sends, ignores later input. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.disarmRetransmit();
    this.disarmAck();
    const pending = this.queue.slice(this.queueHead);
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.out = [];
    this.outHead = 0;
    this.unackedBytes = 0;
    this.spareFrames = [];
    this.reorder.clear();
    this.parts = [];
    this.partsBytes = 0;
    this.assembly = undefined;
    this.path = undefined;
    for (const p of pending) p?.reject(new Error('stream closed'));
  }

  // ---------------------------------------------------------------- sending

  private get nextSeq(): number {
    return this.ackedThrough + 1 + (this.out.length - this.outHead);
  }

  private frameAt(seq: number): OutFrame | undefined {
    return this.out[this.outHead + (seq - this.ackedThrough - 1)];
  }

  /** Cuts queued messages into frames while the window has room, resolving fully cut sends. */
  private fillWindow(): void {
    while (this.cutFrame());
  }

  /** Cuts the next frame from the queue if the window has room; false when it cannot. */
  private cutFrame(): boolean {
    if (!(this.queueHead < this.queue.length && this.unackedBytes < this.windowBytes && this.out.length - this.outHead < this.maxReorderFrames)) return false;
    const head = this.queue[this.queueHead]!;
    const n = Math.min(this.chunkBytes, head.length - head.offset);
    head.offset += n;
    this.queuedBytes -= n;
    const more = head.offset < head.length;
    const seq = this.nextSeq;
    // The frame gets its own copy of the chunk: the caller may reuse its buffer once send() resolves.
    // A full frame goes into a buffer of an acknowledged one when there is one (see onAck).
    const encoded = n === this.chunkBytes ? encodeDataFrame(seq, more, n, this.spareFrames.pop() ?? new Uint8Array(this.chunkBytes + HEADER_ALLOWANCE)) : encodeDataFrame(seq, more, n);
    for (let at = encoded.length - n; at < encoded.length; ) {
      const part = head.parts[head.part]!;
      const take = Math.min(part.length - head.partOffset, encoded.length - at);
      encoded.set(part.subarray(head.partOffset, head.partOffset + take), at);
      at += take;
      head.partOffset += take;
      if (head.partOffset === part.length) {
        head.part += 1;
        head.partOffset = 0;
      }
    }
    this.out.push({ seq, more, payload: n, encoded, lastPath: undefined, resend: false, sends: 0 });
    this.unackedBytes += n;
    if (!more) {
      this.queue[this.queueHead] = undefined; // release the message
      this.queueHead += 1;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
      head.resolve();
    }
    return true;
  }


  /** The next frame to put on the wire: flagged resends first (in seq order), then fresh frames. */
  private nextToSend(): OutFrame | undefined {
    let s = Math.max(this.resendFrom, this.ackedThrough + 1);
    for (; s < this.freshSeq; s++) {
      const frame = this.frameAt(s);
      if (frame?.resend) {
        this.resendFrom = s;
        return frame;
      }
    }
    this.resendFrom = s;
    return this.freshSeq < this.nextSeq ? this.frameAt(this.freshSeq) : undefined;
  }

  private transmit(): void {
    for (;;) {
      const path = this.path;
      if (!path || this.closed) return;
      if (!path.canSend()) return;
      const frame = this.nextToSend() ?? (this.cutFrame() ? this.nextToSend() : undefined);
      if (!frame) return;
      const isResend = frame.seq < this.freshSeq;
      try {
        path.send(frame.encoded);
      } catch {
        this.breakPath(path);
        return;
      }
      if (this.closed) return;
      frame.lastPath = path.id;
      frame.resend = false;
      frame.sends += 1;
      if (isResend) {
        this.counters.retransmittedFrames += 1;
      } else {
        this.counters.bytesSent += frame.payload;
        if (!frame.more) this.counters.messagesSent += 1;
        this.freshSeq = Math.max(this.freshSeq, frame.seq + 1);
      }
      this.armRetransmit();
    }
  }

  /** path.send threw: stop using the path; what was sent on it counts as lost. */
  private breakPath(path: StreamPath): void {
    if (this.path === path) this.path = undefined;
    this.markForResend((frame) => frame.lastPath === path.id);
  }

  private markForResend(predicate: (frame: OutFrame) => boolean): void {
    for (let s = this.ackedThrough + 1; s < this.freshSeq; s++) {
      const frame = this.frameAt(s);
      if (frame && !frame.resend && predicate(frame)) {
        frame.resend = true;
        if (s < this.resendFrom) this.resendFrom = s;
      }
    }
  }

  private onAck(cumulativeSeq: number, pathId: string): void {
    if (cumulativeSeq <= this.ackedThrough) return; // stale or repeated: no progress
    if (cumulativeSeq >= this.nextSeq) {
      this.emit('error', { code: 'MALFORMED_FRAME', message: `ACK on ${pathId} for seq ${cumulativeSeq}, beyond the last frame sent (${this.nextSeq - 1})` });
      return;
    }
    while (this.ackedThrough < cumulativeSeq) {
      const frame = this.out[this.outHead];
      this.out[this.outHead] = undefined;
      this.outHead += 1;
      this.ackedThrough += 1;
      this.unackedBytes -= frame?.payload ?? 0;
      if (frame) this.recycle(frame);
    }
    if (this.outHead === this.out.length) {
      this.out = [];
      this.outHead = 0;
      if (this.queueHead === this.queue.length) this.spareFrames = []; // idle: hold no buffers
    } else if (this.outHead > 1024 && this.outHead * 2 > this.out.length) {
      this.out = this.out.slice(this.outHead);
      this.outHead = 0;
    }
    // Only possible if a send that threw had in fact delivered the frame.
    if (this.freshSeq <= cumulativeSeq) this.freshSeq = cumulativeSeq + 1;
    this.disarmRetransmit();
    if (this.freshSeq > this.ackedThrough + 1) this.armRetransmit();
    this.pump();
  }

  /**
   * Keeps an acknowledged full frame's buffer for the next frame cut, instead of allocating (and
   * the garbage collector freeing) a new one per frame. Only a frame handed to a path once: the
   * ACK then proves that one send delivered it. Every path copies a frame before send() returns
   * (StreamPath.send), so nothing else still reads the buffer.
   */
  private recycle(frame: OutFrame): void {
    const buffer = frame.encoded.buffer;
    if (frame.sends !== 1 || frame.encoded.byteOffset !== 0 || buffer.byteLength !== this.chunkBytes + HEADER_ALLOWANCE) return;
    if (this.spareFrames.length * this.chunkBytes < this.windowBytes) this.spareFrames.push(new Uint8Array(buffer));
  }

  private armRetransmit(): void {
    if (this.retransmitArmed || this.closed) return;
    this.retransmitArmed = true;
    this.retransmitTimer = this.setTimer(() => this.onRetransmitTimer(), this.retransmitAfterMs);
  }

  private disarmRetransmit(): void {
    if (!this.retransmitArmed) return;
    this.retransmitArmed = false;
    this.clearTimer(this.retransmitTimer);
    this.retransmitTimer = undefined;
  }

  /** No ACK progress for retransmitAfterMs: go back N. Re-armed by the resends themselves. */
  private onRetransmitTimer(): void {
    this.retransmitArmed = false;
    this.retransmitTimer = undefined;
    if (this.closed || this.freshSeq <= this.ackedThrough + 1) return;
    this.markForResend(() => true);
    this.pump();
  }

  // -------------------------------------------------------------- receiving

  private onData(seq: number, more: boolean, chunk: Uint8Array): void {
    if (seq < this.expected || this.reorder.has(seq)) {
      this.counters.duplicateFrames += 1;
      this.sendAck(); // the sender probably retransmitted: tell it at once where we are
      return;
    }
    if (seq === this.expected && this.reorder.size === 0) {
      // In order with nothing waiting (the usual case): straight to reassembly, no detour through the map.
      this.expected += 1;
      try {
        this.accept(more, chunk);
      } finally {
        this.noteDataForAck();
      }
      return;
    }
    if (seq - this.expected <= this.maxReorderFrames) this.reorder.set(seq, { more, chunk });
    // else: too far ahead to buffer; dropped, the sender will retransmit it.
    try {
      this.drain();
    } finally {
      this.noteDataForAck();
    }
  }

  /** Delivers frames from `expected` on while they are there. State is updated before each emit. */
  private drain(): void {
    while (!this.closed) {
      const frame = this.reorder.get(this.expected);
      if (!frame) return;
      this.reorder.delete(this.expected);
      this.expected += 1;
      this.accept(frame.more, frame.chunk);
    }
  }

  private accept(more: boolean, chunk: Uint8Array): void {
    if (this.discarding) {
      if (!more) this.discarding = false;
      return;
    }
    if (this.partsBytes + chunk.length > this.maxMessageBytes) {
      const size = this.partsBytes + chunk.length;
      this.parts = [];
      this.partsBytes = 0;
      this.assembly = undefined;
      this.discarding = more;
      this.emit('error', {
        code: 'MESSAGE_TOO_LARGE',
        message: `incoming message exceeds maxMessageBytes (${this.maxMessageBytes}): ${more ? 'at least ' : ''}${size} bytes; discarded`,
      });
      return;
    }
    if (more && this.partsBytes === 0 && this.parts.length === 0 && !this.assembly) {
      const length = this.messageLength?.(chunk);
      if (length !== undefined && length > chunk.length && length <= this.maxMessageBytes) this.assembly = new Uint8Array(length);
    }
    if (this.assembly) {
      const needed = this.partsBytes + chunk.length;
      if (needed > this.assembly.length) {
        // The length was a lower bound: more follows than the first chunk said. Rare; grow with room.
        const grown = new Uint8Array(Math.min(this.maxMessageBytes, needed + (needed >> 3)));
        grown.set(this.assembly.subarray(0, this.partsBytes));
        this.assembly = grown;
      }
      this.assembly.set(chunk, this.partsBytes);
    } else if (chunk.length > 0) {
      this.parts.push(chunk);
    }
    this.partsBytes += chunk.length;
    if (more) return;
    let message: Uint8Array;
    if (this.assembly) {
      message = this.assembly.length === this.partsBytes ? this.assembly : this.assembly.slice(0, this.partsBytes);
    } else {
      message = new Uint8Array(this.partsBytes);
      let offset = 0;
      for (const part of this.parts) {
        message.set(part, offset);
        offset += part.length;
      }
    }
    this.parts = [];
    this.partsBytes = 0;
    this.assembly = undefined;
    this.counters.messagesReceived += 1;
    this.counters.bytesReceived += message.length;
    this.emit('message', message);
  }

  private noteDataForAck(): void {
    if (this.closed) return;
    this.framesSinceAck += 1;
    if (this.framesSinceAck >= this.ackEveryFrames) return this.sendAck();
    const short = !((this.partsBytes > 0 || this.discarding) && this.reorder.size === 0);
    if (this.ackArmed && (this.ackArmedShort || !short)) return;
    // Not armed, or armed long while the message just ended (or a gap opened): the short delay from now.
    this.disarmAck();
    this.ackArmed = true;
    this.ackArmedShort = short;
    this.ackTimer = this.setTimer(
      () => {
        this.ackArmed = false;
        this.ackTimer = undefined;
        if (!this.closed && this.framesSinceAck > 0) this.sendAck();
      },
      short ? this.ackDelayMs : this.midMessageAckDelayMs,
    );
  }

  private disarmAck(): void {
    if (!this.ackArmed) return;
    this.ackArmed = false;
    this.clearTimer(this.ackTimer);
    this.ackTimer = undefined;
  }

  /** ACKs ignore the window and canSend() (they are tiny); without a path, one is sent when a path is set. */
  private sendAck(): void {
    if (this.closed) return;
    this.disarmAck();
    this.framesSinceAck = 0;
    const path = this.path;
    if (!path) {
      this.ackPending = true;
      return;
    }
    this.ackPending = false;
    try {
      path.send(this.encoder.encode([FRAME_ACK, this.expected - 1]));
    } catch {
      this.ackPending = true;
      this.breakPath(path);
    }
  }
}
