import { describe, expect, it } from 'vitest';

import {
  DATACHANNEL_PATH_ID,
  DataChannelPath,
  DEFAULT_MAX_MESSAGE_SIZE,
  HIGH_WATER_BYTES,
  LOW_WATER_BYTES,
} from '../../../src-renderer/engine/link/datachannel-path';

// ---------------------------------------------------------------- harness

/** The parts of an RTCDataChannel the path touches; send() keeps a copy of every message. */
class FakeChannel {
  readyState: RTCDataChannelState = 'open';
  bufferedAmount = 0;
  binaryType: BinaryType = 'blob';
  bufferedAmountLowThreshold = 0;
  readonly sent: Uint8Array[] = [];
  send(data: Uint8Array): void {
    this.sent.push(new Uint8Array(data));
  }
}

function makePath(maxMessageSize: number | undefined, maxReassembledBytes = 4 * 1024 * 1024) {
  const channel = new FakeChannel();
  const path = new DataChannelPath(channel as unknown as RTCDataChannel, maxMessageSize, maxReassembledBytes);
  return { channel, path };
}

/** Deterministic pseudo-random bytes (xorshift), so a failure reproduces. */
function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Byte equality that stays fast on 300 KiB frames (toEqual walks them element by element). */
function expectSameBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  let firstDifference = -1;
  const length = Math.min(actual!.length, expected.length);
  for (let i = 0; i < length; i++) {
    if (actual![i] !== expected[i]) {
      firstDifference = i;
      break;
    }
  }
  expect({ length: actual!.length, firstDifference }).toEqual({ length: expected.length, firstDifference: -1 });
}

function expectSameFrames(actual: Uint8Array[], expected: Uint8Array[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expectSameBytes(actual[i], expected[i]!);
}

/** A DataChannel message as the browser hands it over: an ArrayBuffer of exactly its bytes. */
const asMessage = (bytes: Uint8Array): ArrayBuffer => bytes.slice().buffer as ArrayBuffer;

/** Feeds messages to `receiver`, returning every whole frame (and failing on any error). */
function deliver(receiver: DataChannelPath, messages: Uint8Array[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (const message of messages) {
    const result = receiver.receive(asMessage(message));
    if (result === undefined) continue;
    if ('error' in result) throw new Error(result.error);
    frames.push(result);
  }
  return frames;
}

// ---------------------------------------------------------------- setup

describe('DataChannelPath setup', () => {
  it('identifies itself as the datachannel path and configures the channel', () => {
    const { channel, path } = makePath(16_384);
    expect(path.id).toBe(DATACHANNEL_PATH_ID);
    expect(channel.binaryType).toBe('arraybuffer');
    expect(channel.bufferedAmountLowThreshold).toBe(LOW_WATER_BYTES);
  });

  it('bufferedAmount reflects the channel', () => {
    const { channel, path } = makePath(16_384);
    channel.bufferedAmount = 12_345;
    expect(path.bufferedAmount).toBe(12_345);
  });
});

// ---------------------------------------------------------------- fragmenting

describe('DataChannelPath fragmenting', () => {
  it.each([
    [16_384, 16_384],
    [65_536, 65_536],
    [262_144, 262_144],
    [undefined, DEFAULT_MAX_MESSAGE_SIZE],
    [0, DEFAULT_MAX_MESSAGE_SIZE],
  ])('frames larger than maxMessageSize=%s become messages of at most %i bytes, header included', (maxMessageSize, limit) => {
    expect(DEFAULT_MAX_MESSAGE_SIZE).toBe(16 * 1024);
    const { channel, path } = makePath(maxMessageSize);
    const frame = randomBytes(limit * 3 + 500, 42);
    path.send(frame);
    expect(channel.sent.length).toBe(4);
    for (const message of channel.sent) expect(message.length).toBeLessThanOrEqual(limit);
    // Full fragments use the whole message size; only the last is shorter.
    for (const message of channel.sent.slice(0, -1)) expect(message.length).toBe(limit);
    // Header: 1 = more follow, 0 = last.
    expect(channel.sent.map((m) => m[0])).toEqual([1, 1, 1, 0]);
    // The payloads, in order, are the frame.
    const joined = new Uint8Array(channel.sent.reduce((n, m) => n + m.length - 1, 0));
    let offset = 0;
    for (const message of channel.sent) {
      joined.set(message.subarray(1), offset);
      offset += message.length - 1;
    }
    expectSameBytes(joined, frame);
  });

  it('a stream frame that fits goes out as one message, as it is (no header, no copy)', () => {
    const { channel, path } = makePath(16_384);
    const frame = randomBytes(16_384, 3);
    frame[0] = 0x94; // stream frames are MessagePack arrays
    path.send(frame);
    expect(channel.sent.length).toBe(1);
    expect(channel.sent[0]!.length).toBe(16_384);
    expectSameBytes(channel.sent[0]!, frame);
  });

  it('one byte over the message size is fragmented into two messages with headers', () => {
    const { channel, path } = makePath(16_384);
    const frame = randomBytes(16_385, 4);
    frame[0] = 0x94;
    path.send(frame);
    expect(channel.sent.map((m) => [m[0], m.length])).toEqual([
      [1, 16_384],
      [0, 3],
    ]);
  });

  it('a frame starting with 0 or 1 is always wrapped, so it is never mistaken for a fragment header', () => {
    const { channel, path } = makePath(16_384);
    path.send(new Uint8Array([1, 2, 3]));
    path.send(new Uint8Array([0, 9]));
    expect(channel.sent).toEqual([new Uint8Array([0, 1, 2, 3]), new Uint8Array([0, 0, 9])]);
    const { path: receiver } = makePath(16_384);
    expect(deliver(receiver, channel.sent)).toEqual([new Uint8Array([1, 2, 3]), new Uint8Array([0, 9])]);
  });

  it('a 0-byte frame is sent as a lone header and round-trips', () => {
    const { channel, path } = makePath(16_384);
    path.send(new Uint8Array(0));
    expect(channel.sent).toEqual([new Uint8Array([0])]);
    const { path: receiver } = makePath(16_384);
    const frames = deliver(receiver, channel.sent);
    expect(frames.length).toBe(1);
    expect(frames[0]!.length).toBe(0);
  });
});

// ---------------------------------------------------------------- reassembly

describe('DataChannelPath reassembly', () => {
  it.each([16_384, 262_144])('random frames of 0..300 KiB round-trip exactly (maxMessageSize %i)', (maxMessageSize) => {
    const { channel, path: sender } = makePath(maxMessageSize);
    const { path: receiver } = makePath(maxMessageSize);
    const sizes = [0, 1, maxMessageSize - 1, maxMessageSize, maxMessageSize + 1, 300 * 1024];
    for (let i = 0; i < 14; i++) sizes.push((i * 2_654_435_761) % (300 * 1024 + 1));
    const frames = sizes.map((size, i) => randomBytes(size, i + 1));
    for (const frame of frames) sender.send(frame);
    for (const message of channel.sent) expect(message.length).toBeLessThanOrEqual(maxMessageSize);
    const received = deliver(receiver, channel.sent);
    expectSameFrames(received, frames);
  });

  it('returns nothing until the last fragment of a frame arrives', () => {
    const { channel, path: sender } = makePath(16_384);
    const { path: receiver } = makePath(16_384);
    const frame = randomBytes(40_000, 9);
    sender.send(frame);
    expect(channel.sent.length).toBe(3);
    expect(receiver.receive(asMessage(channel.sent[0]!))).toBeUndefined();
    expect(receiver.receive(asMessage(channel.sent[1]!))).toBeUndefined();
    expectSameBytes(receiver.receive(asMessage(channel.sent[2]!)) as Uint8Array, frame);
  });

  it('an empty message is an error, and the next valid frame still reassembles', () => {
    const { channel, path: sender } = makePath(16_384);
    const { path: receiver } = makePath(16_384);
    const frame = randomBytes(50_000, 11);
    sender.send(frame);
    // Half a frame, then garbage: the partial frame is dropped.
    expect(receiver.receive(asMessage(channel.sent[0]!))).toBeUndefined();
    const result = receiver.receive(new ArrayBuffer(0));
    expect(result).toHaveProperty('error');
    expectSameFrames(deliver(receiver, channel.sent), [frame]);
  });

  it.each([2, 0x7f, 0xff])('a header byte of %i is an error, and the next valid frame still reassembles', (header) => {
    const { channel, path: sender } = makePath(16_384);
    const { path: receiver } = makePath(16_384);
    const frame = randomBytes(20_000, 12);
    sender.send(frame);
    expect(receiver.receive(asMessage(channel.sent[0]!))).toBeUndefined();
    const result = receiver.receive(asMessage(new Uint8Array([header, 1, 2, 3])));
    expect(result).toHaveProperty('error');
    expect(typeof (result as { error: string }).error).toBe('string');
    expectSameFrames(deliver(receiver, channel.sent), [frame]);
  });

  it('a frame over maxReassembledBytes is an error, and the receiver starts afresh', () => {
    const limit = 50_000;
    const { channel, path: sender } = makePath(16_384);
    const { path: receiver } = makePath(16_384, limit);
    sender.send(randomBytes(limit + 1, 13));
    const results = channel.sent.map((message) => receiver.receive(asMessage(message)));
    // 50 001 bytes = 4 fragments; the 4th pushes the total over the limit.
    expect(results.slice(0, 3)).toEqual([undefined, undefined, undefined]);
    expect(results[3]).toHaveProperty('error');
    expect((results[3] as { error: string }).error).toContain(String(limit));

    // Nothing of the refused frame lingers: the next frames arrive intact.
    channel.sent.length = 0;
    const next = randomBytes(limit, 14);
    const small = randomBytes(10, 15);
    sender.send(next);
    sender.send(small);
    expectSameFrames(deliver(receiver, channel.sent), [next, small]);
  });

  it('a frame of exactly maxReassembledBytes is accepted', () => {
    const limit = 40_000;
    const { channel, path: sender } = makePath(16_384);
    const { path: receiver } = makePath(16_384, limit);
    const frame = randomBytes(limit, 16);
    sender.send(frame);
    expectSameFrames(deliver(receiver, channel.sent), [frame]);
  });
});

// ---------------------------------------------------------------- flow control

describe('DataChannelPath canSend', () => {
  it('is true only while the channel is open', () => {
    const { channel, path } = makePath(16_384);
    expect(path.canSend()).toBe(true);
    for (const state of ['connecting', 'closing', 'closed'] as const) {
      channel.readyState = state;
      expect(path.canSend()).toBe(false);
    }
    channel.readyState = 'open';
    expect(path.canSend()).toBe(true);
  });

  it('is false at or above the high-water mark and true below it', () => {
    const { channel, path } = makePath(16_384);
    expect(HIGH_WATER_BYTES).toBeGreaterThan(LOW_WATER_BYTES);
    channel.bufferedAmount = HIGH_WATER_BYTES - 1;
    expect(path.canSend()).toBe(true);
    channel.bufferedAmount = HIGH_WATER_BYTES;
    expect(path.canSend()).toBe(false);
    channel.bufferedAmount = HIGH_WATER_BYTES * 4;
    expect(path.canSend()).toBe(false);
    channel.bufferedAmount = LOW_WATER_BYTES;
    expect(path.canSend()).toBe(true);
    channel.bufferedAmount = 0;
    expect(path.canSend()).toBe(true);
  });
});
