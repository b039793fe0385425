import { encode } from '@msgpack/msgpack';
import { afterEach, describe, expect, it, vi } from 'vitest';

import {
  decodeStreamFrame,
  DEFAULT_CHUNK_BYTES,
  encodeDataFrame,
  FRAME_ACK,
  FRAME_DATA,
  HEADER_ALLOWANCE,
  readDataFrame,
  ReliableStream,
  type ReliableStreamOptions,
  type StreamEvents,
  type StreamPath,
} from '../../../src-renderer/engine/link/reliable-stream';

// ---------------------------------------------------------------- harness

/** Timers driven by hand: advance(ms) fires what falls due, in order. */
class ManualClock {
  now = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  readonly setTimer = (fn: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.now + ms, fn });
    return id;
  };
  readonly clearTimer = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };
  get pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = end;
  }
}

/** One direction of an in-memory path: frames wait in `frames` until the test delivers them. */
class FakePath implements StreamPath {
  readonly frames: Uint8Array[] = [];
  writable = true;
  /** When set, only this many more frames are accepted before canSend() turns false. */
  budget: number | undefined;
  /** When set, send() throws once this many more calls have succeeded. */
  throwAfter: number | undefined;
  sendCalls = 0;
  onSend: ((frame: Uint8Array) => void) | undefined;

  constructor(
    readonly id: string,
    readonly maxFrameBytes = 16_384,
  ) {}

  canSend(): boolean {
    return this.writable && (this.budget === undefined || this.budget > 0);
  }

  send(frame: Uint8Array): void {
    this.sendCalls += 1;
    if (this.throwAfter !== undefined) {
      if (this.throwAfter <= 0) throw new Error(`${this.id} is closed`);
      this.throwAfter -= 1;
    }
    if (this.budget !== undefined) this.budget -= 1;
    this.onSend?.(frame);
    // A copy, as RTCDataChannel.send makes: the stream reuses an acknowledged frame's buffer.
    this.frames.push(frame.slice());
  }

  take(): Uint8Array[] {
    return this.frames.splice(0);
  }
}

/** Delivers what is queued on `path` to `to` (optionally transformed: drop, duplicate, reorder). */
function deliver(path: FakePath, to: ReliableStream, transform: (frames: Uint8Array[]) => Uint8Array[] = (f) => f): number {
  const frames = transform(path.take());
  for (const frame of frames) to.receive(frame, path.id);
  return frames.length;
}

interface Route {
  ab: FakePath; // A → B
  ba: FakePath; // B → A
  deliver(transform?: (frames: Uint8Array[]) => Uint8Array[]): number;
}

function route(id: string, a: ReliableStream, b: ReliableStream, maxFrameBytes?: number): Route {
  const ab = new FakePath(id, maxFrameBytes);
  const ba = new FakePath(id, maxFrameBytes);
  return { ab, ba, deliver: (transform) => deliver(ab, b, transform) + deliver(ba, a) };
}

function setup(options: { a?: ReliableStreamOptions; b?: ReliableStreamOptions } = {}) {
  const clock = new ManualClock();
  const timers = { setTimer: clock.setTimer, clearTimer: clock.clearTimer };
  const a = new ReliableStream({ ...timers, ...options.a });
  const b = new ReliableStream({ ...timers, ...options.b });
  const got = { a: [] as Uint8Array[], b: [] as Uint8Array[] };
  const errors = { a: [] as StreamEvents['error'][], b: [] as StreamEvents['error'][] };
  a.on('message', (m) => got.a.push(m));
  b.on('message', (m) => got.b.push(m));
  a.on('error', (e) => errors.a.push(e));
  b.on('error', (e) => errors.b.push(e));
  return { clock, a, b, got, errors };
}

/** Delivers on every route until quiet, advancing the clock in 20 ms steps for `ms` (ACK timers). */
function settle(clock: ManualClock, routes: Route[], ms = 100): void {
  for (let elapsed = 0; ; elapsed += 20) {
    let moved: number;
    do {
      moved = 0;
      for (const r of routes) moved += r.deliver();
    } while (moved > 0);
    if (elapsed >= ms) return;
    clock.advance(20);
  }
}

/** Deterministic pseudo-random bytes (xorshift32 per 32-bit word). */
function makeBytes(seed: number, size: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = (Math.imul(seed + 1, 2_654_435_761) >>> 0) || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, size);
}

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  return x.length === y.length && Buffer.from(x.buffer, x.byteOffset, x.length).equals(Buffer.from(y.buffer, y.byteOffset, y.length));
}

function expectMessages(got: Uint8Array[], sent: Uint8Array[]): void {
  expect(got.length).toBe(sent.length);
  got.forEach((m, i) => expect(sameBytes(m, sent[i]!), `message ${i}`).toBe(true));
}

/** 'D<seq><+ if more>' for DATA, 'A<seq>' for ACK. */
function describeFrames(frames: Uint8Array[]): string[] {
  return frames.map((bytes) => {
    const r = decodeStreamFrame(bytes);
    if (!r.ok) return `invalid: ${r.message}`;
    return r.frame.type === FRAME_DATA ? `D${r.frame.seq}${r.frame.more ? '+' : ''}` : `A${r.frame.cumulativeSeq}`;
  });
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

const KiB = 1024;
const MiB = 1024 * KiB;

// ---------------------------------------------------------------- tests

describe('ReliableStream', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('carries 1000 messages of 0..200 KiB each way at once, exactly once, in order, byte-identical', async () => {
    const { clock, a, b } = setup();
    const r = route('datachannel', a, b);
    a.setPath(r.ab);
    b.setPath(r.ba);

    const COUNT = 1000;
    const sizesOf = (seed: number) => {
      const random = rng(seed);
      const sizes = Array.from({ length: COUNT }, () => Math.floor(random() * (200 * KiB + 1)));
      // Edge sizes: empty, one byte, exactly one chunk, one chunk + 1, the maximum.
      sizes.splice(0, 5, 0, 1, DEFAULT_CHUNK_BYTES, DEFAULT_CHUNK_BYTES + 1, 200 * KiB);
      return sizes;
    };
    const sizesAB = sizesOf(7);
    const sizesBA = sizesOf(11);
    const seedAB = (i: number) => i;
    const seedBA = (i: number) => 1_000_000 + i;

    const check = (sizes: number[], seedOf: (i: number) => number) => {
      const state = { count: 0, bad: [] as number[] };
      return {
        state,
        listener: (m: Uint8Array) => {
          const i = state.count++;
          if (i >= COUNT || !sameBytes(m, makeBytes(seedOf(i), sizes[i]!))) state.bad.push(i);
        },
      };
    };
    const atB = check(sizesAB, seedAB);
    const atA = check(sizesBA, seedBA);
    b.on('message', atB.listener);
    a.on('message', atA.listener);

    // A awaits each send; B fires batches of 50 without awaiting (call order must still hold).
    const producerA = (async () => {
      for (let i = 0; i < COUNT; i++) await a.send(makeBytes(seedAB(i), sizesAB[i]!));
    })();
    const producerB = (async () => {
      for (let i = 0; i < COUNT; i += 50) {
        const batch: Promise<void>[] = [];
        for (let j = i; j < i + 50; j++) batch.push(b.send(makeBytes(seedBA(j), sizesBA[j]!)));
        await Promise.all(batch);
      }
    })();

    let maxUnacked = 0;
    r.ab.onSend = () => (maxUnacked = Math.max(maxUnacked, a.stats().unackedBytes));
    for (let i = 0; i < 10_000 && (atA.state.count < COUNT || atB.state.count < COUNT); i++) {
      r.deliver();
      clock.advance(20);
      await tick();
    }
    await Promise.all([producerA, producerB]);
    settle(clock, [r]);

    expect(atB.state).toEqual({ count: COUNT, bad: [] });
    expect(atA.state).toEqual({ count: COUNT, bad: [] });
    const total = (sizes: number[]) => sizes.reduce((s, n) => s + n, 0);
    expect(b.stats()).toMatchObject({ messagesReceived: COUNT, bytesReceived: total(sizesAB), duplicateFrames: 0 });
    expect(a.stats()).toMatchObject({ messagesSent: COUNT, bytesSent: total(sizesAB), unackedBytes: 0, queuedBytes: 0, retransmittedFrames: 0 });
    expect(b.stats()).toMatchObject({ messagesSent: COUNT, unackedBytes: 0, queuedBytes: 0 });
    expect(maxUnacked).toBeLessThanOrEqual(8 * MiB + DEFAULT_CHUNK_BYTES);
  });

  it('streams a 64 MiB message within the window, and send() waits while the window is full', async () => {
    const { clock, a, b, got } = setup();
    const r = route('datachannel', a, b);
    a.setPath(r.ab);
    b.setPath(r.ba);
    const WINDOW = 8 * MiB;

    let maxUnacked = 0;
    r.ab.onSend = () => (maxUnacked = Math.max(maxUnacked, a.stats().unackedBytes));

    const big = makeBytes(42, 64 * MiB);
    const small = makeBytes(43, 1000);
    let bigQueued = false;
    let smallQueued = false;
    const pBig = a.send(big).then(() => (bigQueued = true));
    const pSmall = a.send(small).then(() => (smallQueued = true));
    await tick();

    // The window is full: the frames on the wire cover ~8 MiB and the rest waits.
    expect(bigQueued).toBe(false);
    expect(smallQueued).toBe(false);
    const first = a.stats();
    expect(first.unackedBytes).toBeGreaterThanOrEqual(WINDOW);
    expect(first.unackedBytes).toBeLessThanOrEqual(WINDOW + DEFAULT_CHUNK_BYTES);
    expect(first.queuedBytes).toBe(64 * MiB + 1000 - first.unackedBytes);
    expect(r.ab.frames.length).toBe(Math.ceil(first.unackedBytes / DEFAULT_CHUNK_BYTES));

    // Data reaches B, but while its ACKs are held nothing more is sent and send() keeps waiting.
    deliver(r.ab, b);
    clock.advance(20);
    a.pump();
    await tick();
    expect(r.ab.frames).toHaveLength(0);
    expect(r.ba.frames.length).toBeGreaterThan(0);
    expect(bigQueued).toBe(false);

    for (let i = 0; i < 1000 && got.b.length < 2; i++) {
      r.deliver();
      clock.advance(20);
      await tick();
    }
    await Promise.all([pBig, pSmall]);
    settle(clock, [r]);

    expect(got.b).toHaveLength(2);
    expect(sameBytes(got.b[0]!, big)).toBe(true);
    expect(sameBytes(got.b[1]!, small)).toBe(true);
    expect(maxUnacked).toBeGreaterThanOrEqual(WINDOW);
    expect(maxUnacked).toBeLessThanOrEqual(WINDOW + DEFAULT_CHUNK_BYTES);
    expect(a.stats()).toMatchObject({ unackedBytes: 0, queuedBytes: 0, messagesSent: 2, retransmittedFrames: 0 });
  });

  it('ACKs cumulatively after ackDelayMs, or at once after ackEveryFrames data frames', async () => {
    const { clock, a, b } = setup();
    const r = route('p', a, b);
    a.setPath(r.ab);
    b.setPath(r.ba);

    for (let i = 0; i < 3; i++) void a.send(makeBytes(i, 10));
    deliver(r.ab, b);
    clock.advance(19);
    expect(r.ba.frames).toHaveLength(0);
    clock.advance(1);
    expect(describeFrames(r.ba.take())).toEqual(['A3']);

    for (let i = 0; i < 16; i++) void a.send(makeBytes(i, 10));
    deliver(r.ab, b);
    expect(describeFrames(r.ba.take())).toEqual(['A19']); // the 16th frame triggers it, no timer needed
    clock.advance(1000);
    expect(r.ba.frames).toHaveLength(0);
    await tick();
  });

  it('works over synchronous paths, where ACKs arrive re-entrantly from inside path.send', async () => {
    const { clock, a, b, got } = setup({ a: { windowBytes: 1 * MiB } });
    const toB: StreamPath = { id: 'sync', maxFrameBytes: 16_384, canSend: () => true, send: (f) => b.receive(f.slice(), 'sync') };
    const toA: StreamPath = { id: 'sync', maxFrameBytes: 16_384, canSend: () => true, send: (f) => a.receive(f.slice(), 'sync') };
    a.setPath(toB);
    b.setPath(toA);
    const sent = [makeBytes(1, 2 * MiB), makeBytes(2, 10)];
    const done = Promise.all(sent.map((m) => a.send(m)));
    // ACKs every 16 frames reopen the window from inside path.send: no timer is needed to finish.
    expectMessages(got.b, sent);
    clock.advance(20); // the last frames' ACK
    await done;
    expect(a.stats()).toMatchObject({ unackedBytes: 0, queuedBytes: 0, retransmittedFrames: 0 });
  });

  it('lets the caller reuse its buffer once send() resolves', async () => {
    const { clock, a, b, got } = setup();
    const r = route('p', a, b);
    a.setPath(r.ab);
    b.setPath(r.ba);
    const buffer = makeBytes(1, 40 * KiB);
    const copy = buffer.slice();
    await a.send(buffer);
    buffer.fill(0);
    r.ab.take(); // lost: the retransmission must still carry the original bytes
    clock.advance(1000);
    settle(clock, [r]);
    expectMessages(got.b, [copy]);
  });

  describe('path switching', () => {
    /** A sends 5 messages on p1 (held there), half of a 6th, then the rest on p2. */
    function switchMidStream() {
      const env = setup();
      const { a, b } = env;
      const p1 = route('p1', a, b);
      const p2 = route('p2', a, b);
      a.setPath(p1.ab);
      b.setPath(p1.ba);
      const sent: Uint8Array[] = [];
      const send = (m: Uint8Array) => {
        sent.push(m);
        void a.send(m);
      };
      for (let i = 0; i < 5; i++) send(makeBytes(i, 40 * KiB)); // 3 frames each
      p1.ab.budget = 2; // the path fills up two frames into the next message
      send(makeBytes(5, 100 * KiB)); // 7 frames
      expect(p1.ab.frames).toHaveLength(17);
      a.setPath(p2.ab);
      b.setPath(p2.ba);
      for (let i = 6; i < 10; i++) send(makeBytes(i, 20 * KiB)); // 2 frames each
      expect(describeFrames(p2.ab.frames)[0]).toBe('D18+');
      expect(p2.ab.frames).toHaveLength(5 + 8);
      return { ...env, p1, p2, sent };
    }

    it('late frames from the old path are delivered once and in order', () => {
      const { clock, a, b, got, p1, p2, sent } = switchMidStream();
      const held = [...p1.ab.frames];

      settle(clock, [p2]); // B has a gap (seq 1..17 are still on p1): nothing is delivered yet
      expect(got.b).toHaveLength(0);
      expect(describeFrames(p2.ab.frames)).toEqual([]);

      settle(clock, [p1, p2]); // the old path finally delivers
      expectMessages(got.b, sent);
      expect(a.stats()).toMatchObject({ unackedBytes: 0, retransmittedFrames: 0 });

      for (const frame of held) b.receive(frame, 'p1'); // and delivers again, very late
      settle(clock, [p1, p2]);
      expect(got.b).toHaveLength(sent.length);
      expect(b.stats().duplicateFrames).toBe(held.length);
      expect(clock.now).toBeLessThan(1000); // all of this without the retransmit timer
    });

    it('frames lost with the old path are resent at once on pathLost', () => {
      const { clock, a, got, p1, p2, sent } = switchMidStream();
      const lost = p1.ab.take().length;

      settle(clock, [p2]);
      expect(got.b).toHaveLength(0);
      expect(p2.ab.frames).toHaveLength(0);

      a.pathLost('p1');
      expect(p2.ab.frames).toHaveLength(lost); // resent now, on the current path
      expect(describeFrames(p2.ab.frames).slice(0, 2)).toEqual(['D1+', 'D2+']);
      settle(clock, [p2]);
      expectMessages(got.b, sent);
      expect(a.stats()).toMatchObject({ unackedBytes: 0, retransmittedFrames: lost });
      expect(clock.now).toBeLessThan(1000);
    });

    it('pathLost of the current path stops using it; the resends wait for the next path', () => {
      const { clock, a, b, got } = setup();
      const p1 = route('p1', a, b);
      const p2 = route('p2', a, b);
      a.setPath(p1.ab);
      b.setPath(p2.ba);
      const m = [makeBytes(1, 30 * KiB), makeBytes(2, 5)];
      void a.send(m[0]!);
      p1.ab.take(); // lost
      a.pathLost('p1');
      void a.send(m[1]!);
      expect(p1.ab.sendCalls).toBe(2);
      a.pump();
      expect(p1.ab.sendCalls).toBe(2);
      a.setPath(p2.ab);
      expect(describeFrames(p2.ab.frames)).toEqual(['D1+', 'D2', 'D3']);
      settle(clock, [p2]);
      expectMessages(got.b, m);
    });
  });

  describe('loss, duplication and reordering', () => {
    it('recovers frames dropped without pathLost through the retransmit timer, and re-arms it', () => {
      const { clock, a, b, got } = setup();
      const r = route('p', a, b);
      a.setPath(r.ab);
      b.setPath(r.ba);
      const sent = Array.from({ length: 20 }, (_, i) => makeBytes(i, 30 * KiB)); // 2 frames each
      for (const m of sent) void a.send(m);
      expect(r.ab.frames).toHaveLength(40);

      r.deliver((frames) => frames.filter((_, i) => i % 5 !== 2)); // seq 3, 8, 13… vanish
      settle(clock, [r]);
      expect(got.b).toHaveLength(1); // stuck at the first gap (message 2 lacks seq 3)
      expect(a.stats().retransmittedFrames).toBe(0);

      clock.advance(1000 - clock.now - 1);
      expect(r.ab.frames).toHaveLength(0);
      clock.advance(1);
      expect(r.ab.frames).toHaveLength(38); // go-back-N from the first unacked frame
      r.ab.take(); // …and these are lost too

      clock.advance(999);
      expect(r.ab.frames).toHaveLength(0);
      clock.advance(1); // re-armed
      expect(r.ab.frames).toHaveLength(38);
      settle(clock, [r]);

      expectMessages(got.b, sent);
      expect(a.stats()).toMatchObject({ retransmittedFrames: 76, unackedBytes: 0 });
      expect(b.stats().duplicateFrames).toBe(30); // frames B already held in its reorder buffer
      clock.advance(5000);
      expect(r.ab.frames).toHaveLength(0); // nothing unacked: the timer stays quiet
    });

    it('recovers lost ACKs: the retransmitted duplicates are acknowledged at once', () => {
      const { clock, a, b, got } = setup();
      const r = route('p', a, b);
      a.setPath(r.ab);
      b.setPath(r.ba);
      const sent = [makeBytes(1, 100), makeBytes(2, 200)];
      for (const m of sent) void a.send(m);
      deliver(r.ab, b);
      clock.advance(20);
      expect(describeFrames(r.ba.take())).toEqual(['A2']); // lost
      clock.advance(1000);
      expect(describeFrames(r.ab.frames)).toEqual(['D1', 'D2']);
      deliver(r.ab, b);
      expect(describeFrames(r.ba.frames)).toEqual(['A2', 'A2']); // one per duplicate, no delay
      deliver(r.ba, a);
      expectMessages(got.b, sent);
      expect(a.stats().unackedBytes).toBe(0);
      expect(b.stats().duplicateFrames).toBe(2);
    });

    it('handles duplicated and reordered frames', () => {
      const { clock, a, b, got } = setup();
      const r = route('p', a, b);
      a.setPath(r.ab);
      b.setPath(r.ba);
      const random = rng(5);
      const sent = Array.from({ length: 60 }, (_, i) => makeBytes(i, Math.floor(random() * 50 * KiB)));
      for (const m of sent) void a.send(m);
      const dataFrames = r.ab.frames.length;

      // Every frame twice, the whole batch shuffled: B must buffer, drain and drop copies.
      r.deliver((frames) => {
        const doubled = [...frames, ...frames];
        for (let i = doubled.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [doubled[i], doubled[j]] = [doubled[j]!, doubled[i]!];
        }
        return doubled;
      });
      settle(clock, [r]);

      expectMessages(got.b, sent);
      expect(b.stats().duplicateFrames).toBe(dataFrames);
      expect(a.stats()).toMatchObject({ unackedBytes: 0, retransmittedFrames: 0 });
    });

    it('keeps at most maxReorderFrames out-of-order frames; the rest is retransmitted', () => {
      const { clock, a, b, got } = setup({ b: { maxReorderFrames: 4 } });
      const r = route('p', a, b);
      a.setPath(r.ab);
      b.setPath(r.ba);
      const sent = Array.from({ length: 10 }, (_, i) => makeBytes(i, 100));
      for (const m of sent) void a.send(m);
      r.deliver((frames) => [...frames.slice(1), frames[0]!]); // seq 1 arrives last
      settle(clock, [r]);
      expectMessages(got.b, sent.slice(0, 5)); // 2..5 were buffered, 6..10 dropped
      expect(b.stats().duplicateFrames).toBe(0);

      clock.advance(1000);
      settle(clock, [r]);
      expectMessages(got.b, sent);
      expect(a.stats().unackedBytes).toBe(0);
    });
  });

  describe('bad input from the peer', () => {
    it('reports malformed frames without throwing and keeps delivering', () => {
      const { clock, a, b, got, errors } = setup();
      const r = route('p', a, b);
      a.setPath(r.ab);
      b.setPath(r.ba);
      const bytes = new Uint8Array([1, 2, 3]);
      const valid = encode([FRAME_DATA, 1, false, bytes]);
      const garbage: Uint8Array[] = [
        new Uint8Array([0xc1, 0x00, 0xff]), // 0xc1 is never used in MessagePack
        new Uint8Array(0),
        encode([0, 'x', true, bytes]),
        encode([9]),
        encode('a msgpack string'),
        encode([0, -1, false, bytes]),
        encode([0, 0, false, bytes]),
        encode([0, 1.5, false, bytes]),
        encode([0, 1, 'yes', bytes]),
        encode([0, 1, false, 'not binary']),
        encode([0, 1, false]),
        encode([1, -3]),
        encode([1]),
        encode([]),
        encode({ type: 0 }),
        new Uint8Array([...valid, 0x00]), // trailing byte
        valid.subarray(0, valid.length - 1), // truncated
      ];
      for (const frame of garbage) expect(() => b.receive(frame, 'p')).not.toThrow();
      expect(errors.b).toHaveLength(garbage.length);
      expect(errors.b.every((e) => e.code === 'MALFORMED_FRAME')).toBe(true);
      expect(errors.b[2]!.message).toContain('seq');
      expect(errors.b[3]!.message).toContain('unknown frame type 9');
      clock.advance(100);
      expect(r.ba.frames).toHaveLength(0); // nothing was acknowledged
      expect(b.stats()).toMatchObject({ messagesReceived: 0, duplicateFrames: 0 });

      // An ACK for frames never sent is malformed too, and changes nothing.
      expect(() => a.receive(encode([FRAME_ACK, 5]), 'p')).not.toThrow();
      expect(errors.a.map((e) => e.code)).toEqual(['MALFORMED_FRAME']);

      const sent = [makeBytes(1, 3), makeBytes(2, 40 * KiB)];
      for (const m of sent) void a.send(m);
      settle(clock, [r]);
      expectMessages(got.b, sent);
      expect(a.stats().unackedBytes).toBe(0);
      expect(errors.b).toHaveLength(garbage.length);
    });

    it('drops a message larger than maxMessageBytes with one error, and goes on', () => {
      const { clock, a, b, got, errors } = setup({ a: { chunkBytes: 256 }, b: { maxMessageBytes: 1000 } });
      const r = route('p', a, b);
      a.setPath(r.ab);
      b.setPath(r.ba);
      const m = {
        ok1: makeBytes(1, 500),
        hugeMidway: makeBytes(2, 5000), // 20 frames: too large after the 4th, the rest is discarded
        ok2: makeBytes(3, 700),
        hugeAtEnd: makeBytes(4, 1001), // too large only with its last frame
        exact: makeBytes(5, 1000),
        empty: new Uint8Array(0),
      };
      for (const msg of Object.values(m)) void a.send(msg);
      settle(clock, [r]);

      expectMessages(got.b, [m.ok1, m.ok2, m.exact, m.empty]);
      expect(errors.b.map((e) => e.code)).toEqual(['MESSAGE_TOO_LARGE', 'MESSAGE_TOO_LARGE']);
      expect(errors.b[0]!.message).toContain('1000');
      expect(a.stats()).toMatchObject({ unackedBytes: 0, retransmittedFrames: 0 }); // all frames acknowledged
      expect(b.stats().messagesReceived).toBe(4);
    });
  });

  describe('path backpressure and failures', () => {
    it('stops while canSend() is false and resumes on pump()', () => {
      const { clock, a, b, got } = setup();
      const r = route('p', a, b);
      a.setPath(r.ab);
      b.setPath(r.ba);
      r.ab.writable = false;
      const sent = [makeBytes(1, 50 * KiB), makeBytes(2, 10)];
      for (const m of sent) void a.send(m);
      expect(r.ab.sendCalls).toBe(0);
      expect(a.stats()).toMatchObject({ unackedBytes: 50 * KiB + 10, queuedBytes: 0, bytesSent: 0 });

      r.ab.writable = true;
      expect(r.ab.sendCalls).toBe(0); // nothing happens by itself…
      r.ab.budget = 2;
      a.pump(); // …until pumped: two frames fit, then the buffer is full again
      expect(describeFrames(r.ab.frames)).toEqual(['D1+', 'D2+']);
      r.ab.budget = undefined;
      a.pump();
      expect(describeFrames(r.ab.frames)).toEqual(['D1+', 'D2+', 'D3+', 'D4', 'D5']);
      settle(clock, [r]);
      expectMessages(got.b, sent);
      expect(a.stats()).toMatchObject({ bytesSent: 50 * KiB + 10, messagesSent: 2, unackedBytes: 0 });
    });

    it('survives path.send throwing: stops using the path and resends its frames on the next one', () => {
      const { clock, a, b, got } = setup();
      const p1 = route('p1', a, b);
      const p2 = route('p2', a, b);
      a.setPath(p1.ab);
      b.setPath(p1.ba);
      p1.ab.throwAfter = 2;
      const sent = Array.from({ length: 5 }, (_, i) => makeBytes(i, 40 * KiB)); // 3 frames each
      for (const m of sent) expect(() => void a.send(m)).not.toThrow();
      expect(p1.ab.sendCalls).toBe(3); // two sent, the third threw
      a.pump();
      expect(p1.ab.sendCalls).toBe(3); // the broken path is left alone

      a.setPath(p2.ab);
      const onP2 = describeFrames(p2.ab.frames);
      expect(onP2).toHaveLength(15);
      expect(onP2.slice(0, 3)).toEqual(['D1+', 'D2+', 'D3']); // the two sent on p1 count as lost
      expect(a.stats().retransmittedFrames).toBe(2);

      // The two frames p1 did carry arrive as well: duplicates, dropped.
      settle(clock, [p1, p2]);
      expectMessages(got.b, sent);
      expect(b.stats().duplicateFrames).toBe(2);
      expect(a.stats().unackedBytes).toBe(0);
    });

    it('survives an ACK send throwing, and sends the pending ACK on the next path', () => {
      const { clock, a, b, got } = setup();
      const p1 = route('p1', a, b);
      const p2 = route('p2', a, b);
      a.setPath(p1.ab);
      b.setPath(p1.ba);
      p1.ba.throwAfter = 0;
      void a.send(makeBytes(1, 10));
      expect(() => deliver(p1.ab, b)).not.toThrow();
      expect(() => clock.advance(20)).not.toThrow();
      expect(p1.ba.sendCalls).toBe(1);
      expect(got.b).toHaveLength(1);

      b.setPath(p2.ba);
      expect(describeFrames(p2.ba.frames)).toEqual(['A1']);
      deliver(p2.ba, a);
      expect(a.stats().unackedBytes).toBe(0);
    });

    it('queues without a path and rejects paths whose frames are too small', () => {
      const { clock, a, b, got } = setup();
      expect(() => a.setPath(new FakePath('tiny', DEFAULT_CHUNK_BYTES + HEADER_ALLOWANCE - 1))).toThrow(/tiny.*accepts frames of/);
      expect(() => a.setPath(new FakePath('ok', DEFAULT_CHUNK_BYTES + HEADER_ALLOWANCE))).not.toThrow();
      a.setPath(undefined);
      const r = route('p', a, b);
      const sent = [makeBytes(1, 20 * KiB), makeBytes(2, 0)];
      for (const m of sent) void a.send(m);
      settle(clock, [r]);
      expect(got.b).toHaveLength(0);
      a.setPath(r.ab);
      deliver(r.ab, b);
      clock.advance(20); // B has no path yet: its ACK waits for one
      expect(got.b).toHaveLength(2);
      b.setPath(r.ba);
      expect(describeFrames(r.ba.frames)).toEqual(['A3']);
      settle(clock, [r]);
      expectMessages(got.b, sent);
      expect(a.stats().unackedBytes).toBe(0);
    });
  });

  describe('close()', () => {
    it('rejects pending sends, clears every timer and ignores later input', async () => {
      vi.useFakeTimers();
      const a = new ReliableStream({ windowBytes: 20_000 });
      const b = new ReliableStream();
      const r = route('p', a, b);
      a.setPath(r.ab);
      b.setPath(r.ba);
      const events: string[] = [];
      b.on('message', () => events.push('message'));
      b.on('error', () => events.push('error'));

      const first = a.send(makeBytes(1, 10));
      const pending = [a.send(makeBytes(2, 40 * KiB)), a.send(makeBytes(3, 10))]; // beyond the window
      await expect(first).resolves.toBeUndefined();
      const early = r.ab.take();
      b.receive(early[0]!, 'p');
      expect(events).toEqual(['message']);
      expect(vi.getTimerCount()).toBe(2); // A's retransmit timer, B's ACK timer

      a.close();
      b.close();
      expect(() => a.close()).not.toThrow();
      for (const p of pending) await expect(p).rejects.toThrow('stream closed');
      await expect(a.send(new Uint8Array(1))).rejects.toThrow('stream closed');
      expect(vi.getTimerCount()).toBe(0);

      const calls = { ab: r.ab.sendCalls, ba: r.ba.sendCalls };
      for (const frame of early.slice(1)) b.receive(frame, 'p');
      b.receive(new Uint8Array([0xc1]), 'p');
      a.receive(encode([FRAME_ACK, 1]), 'p');
      a.pump();
      a.setPath(r.ab);
      a.pathLost('p');
      vi.advanceTimersByTime(10_000);
      expect(events).toEqual(['message']);
      expect({ ab: r.ab.sendCalls, ba: r.ba.sendCalls }).toEqual(calls);
      expect(a.stats()).toMatchObject({ unackedBytes: 0, queuedBytes: 0 });
    });
  });

  it('puts the first frame of a large message on the path before cutting the rest of the window', async () => {
    const { a } = setup();
    const path = new FakePath('datachannel');
    let cutAtFirstSend: number | undefined;
    path.onSend = () => (cutAtFirstSend ??= a.stats().unackedBytes);
    a.setPath(path);
    void a.send(makeBytes(7, 4 * MiB));
    await tick();
    // Only the frame being sent had been encoded; the rest of the window is cut afterwards.
    expect(cutAtFirstSend).toBe(DEFAULT_CHUNK_BYTES);
    expect(a.stats().unackedBytes).toBe(4 * MiB);
  });

  it('reassembles a large message into the buffer its first chunk announces, and copes with a wrong announcement', async () => {
    const sizes = [3 * DEFAULT_CHUNK_BYTES + 5, 10 * DEFAULT_CHUNK_BYTES, 100];
    const cases: Array<[string, (firstChunk: Uint8Array, size: number) => number | undefined]> = [
      ['exact', (_, size) => size],
      ['too short', (_, size) => size - DEFAULT_CHUNK_BYTES - 7],
      ['too long', (_, size) => size + 12_345],
      ['beyond the limit', () => 2 ** 40],
      ['unknown', () => undefined],
    ];
    for (const [name, announce] of cases) {
      let current = 0;
      const asked: number[] = [];
      const { clock, a, b, got, errors } = setup({ b: { messageLength: (chunk) => (asked.push(chunk.length), announce(chunk, current)) } });
      const r = route('datachannel', a, b);
      a.setPath(r.ab);
      b.setPath(r.ba);
      const sent = sizes.map((size, i) => makeBytes(100 + i, size));
      for (const message of sent) {
        current = message.length;
        await a.send(message);
        settle(clock, [r]);
      }
      expectMessages(got.b, sent);
      expect(errors.b, name).toEqual([]);
      // Asked once per message of more than one frame, with its first chunk.
      expect(asked, name).toEqual([DEFAULT_CHUNK_BYTES, DEFAULT_CHUNK_BYTES]);
      // What is delivered is the message's own buffer, not a view into a larger one.
      for (const m of got.b) expect(m.buffer.byteLength, name).toBe(m.length);
    }
  });

  it('encodes DATA frames as @msgpack/msgpack does, for every size of seq and chunk', () => {
    for (const seq of [1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      for (const length of [0, 1, 255, 256, 65_535, 65_536, 49_152]) {
        for (const more of [true, false]) {
          const chunk = makeBytes(seq % 1000, length);
          const frame = encodeDataFrame(seq, more, length);
          frame.set(chunk, frame.length - length);
          expect(sameBytes(frame, encode([FRAME_DATA, seq, more, chunk])), `${seq} ${length} ${more}`).toBe(true);
        }
      }
    }
  });

  it('sends a message given as segments as the same bytes, and lets their owner reuse them once send() resolves', async () => {
    const { clock, a, b, got } = setup();
    const r = route('datachannel', a, b);
    a.setPath(r.ab);
    b.setPath(r.ba);
    const whole = makeBytes(9, 5 * DEFAULT_CHUNK_BYTES + 77);
    // Boundaries inside frames, on frame boundaries, and empty segments.
    const cuts = [0, 10, 10, DEFAULT_CHUNK_BYTES, 2 * DEFAULT_CHUNK_BYTES + 3, 4 * DEFAULT_CHUNK_BYTES + 100, whole.length];
    const segments = cuts.slice(1).map((end, i) => whole.slice(cuts[i], end));
    await a.send(segments);
    for (const segment of segments) segment.fill(0);
    await a.send([]);
    settle(clock, [r]);
    expectMessages(got.b, [whole, new Uint8Array(0)]);
  });

  it('reads DATA frames without the general decoder exactly as decodeStreamFrame does, and leaves it everything else', () => {
    const random = rng(3);
    let read = 0;
    for (const seq of [1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32]) {
      for (const length of [0, 1, 255, 256, 65_535, 65_536, 49_152]) {
        for (const more of [true, false]) {
          const frame = encodeDataFrame(seq, more, length);
          frame.set(makeBytes(seq % 1000, length), frame.length - length);
          // The frame itself, and mangled copies of it: a byte changed, cut short, one byte too many.
          const variants = [frame, frame.subarray(0, frame.length - 1), Uint8Array.from([...frame.subarray(0, 12), 0])];
          for (let i = 0; i < 12; i++) {
            const mangled = frame.slice(0, Math.min(frame.length, 16));
            mangled[Math.floor(random() * mangled.length)] = Math.floor(random() * 256);
            variants.push(mangled);
          }
          for (const bytes of variants) {
            const fast = readDataFrame(bytes);
            const general = decodeStreamFrame(bytes);
            if (!fast) continue;
            read += 1;
            expect(general.ok && general.frame.type === FRAME_DATA, `${Buffer.from(bytes.subarray(0, 16)).toString('hex')}`).toBe(true);
            if (general.ok && general.frame.type === FRAME_DATA) {
              expect(fast.seq).toBe(general.frame.seq);
              expect(fast.more).toBe(general.frame.more);
              expect(sameBytes(fast.chunk, general.frame.chunk)).toBe(true);
            }
          }
          if (seq < 2 ** 32) expect(readDataFrame(frame), `${seq} ${length}`).toBeDefined();
        }
      }
    }
    expect(read).toBeGreaterThan(100);
    // A seq of 0, an int for `more`, str for the chunk: refused by the general path, not read here.
    for (const bytes of [encode([FRAME_DATA, 0, false, new Uint8Array(1)]), encode([FRAME_DATA, 1, 0, new Uint8Array(1)]), encode([FRAME_DATA, 1, false, 'x'])]) {
      expect(readDataFrame(bytes)).toBeUndefined();
      expect(decodeStreamFrame(bytes).ok).toBe(false);
    }
  });

  it('reuses the buffers of acknowledged frames for the next ones, never that of a frame sent twice', () => {
    const window = { windowBytes: 8 * DEFAULT_CHUNK_BYTES };
    const { clock, a, b, got } = setup({ a: window, b: window });
    const r = route('datachannel', a, b);
    const buffers: ArrayBufferLike[] = [];
    r.ab.onSend = (frame) => buffers.push(frame.buffer);
    a.setPath(r.ab);
    b.setPath(r.ba);
    const message = makeBytes(4, 40 * DEFAULT_CHUNK_BYTES);
    void a.send(message);
    settle(clock, [r]);
    expectMessages(got.b, [message]);
    // 40 full frames through a window of 8: the first 8 buffers carry them all.
    expect(buffers.length).toBe(40);
    expect(new Set(buffers).size).toBe(8);

    // Frames resent after a loss are not reused: the first send may still be on its way.
    buffers.length = 0;
    const second = makeBytes(5, 16 * DEFAULT_CHUNK_BYTES);
    void a.send(second);
    r.ab.take(); // the first window is lost
    clock.advance(1000); // the retransmit timer resends it
    settle(clock, [r], 200);
    expectMessages(got.b, [message, second]);
    // Sent: the lost 8, the same 8 again, then the other 8 frames, in buffers of none of them.
    expect(buffers).toHaveLength(24);
    expect(buffers.slice(8, 16)).toEqual(buffers.slice(0, 8));
    expect(buffers.slice(16).filter((buffer) => buffers.slice(0, 8).includes(buffer))).toHaveLength(0);
    expect(a.stats().retransmittedFrames).toBe(8);
  });

  it('ACKs a frame in the middle of a message after midMessageAckDelayMs, the end of one after ackDelayMs', () => {
    const { clock, a, b } = setup();
    const r = route('p', a, b);
    a.setPath(r.ab);
    b.setPath(r.ba);
    void a.send(makeBytes(1, 10 * DEFAULT_CHUNK_BYTES)); // 10 frames, fewer than ackEveryFrames
    const frames = r.ab.take();
    for (const frame of frames.slice(0, 4)) b.receive(frame, 'p');
    clock.advance(99);
    expect(r.ba.frames).toHaveLength(0); // the rest of the message is on its way
    clock.advance(1);
    expect(describeFrames(r.ba.take())).toEqual(['A4']);
    for (const frame of frames.slice(4, 8)) b.receive(frame, 'p');
    clock.advance(50);
    for (const frame of frames.slice(8)) b.receive(frame, 'p'); // the message is complete: the short delay from now
    clock.advance(19);
    expect(r.ba.frames).toHaveLength(0);
    clock.advance(1);
    expect(describeFrames(r.ba.take())).toEqual(['A10']);
    // A gap: frames wait out of order, so the ACK goes after ackDelayMs.
    void a.send(makeBytes(2, 3 * DEFAULT_CHUNK_BYTES));
    const more = r.ab.take();
    b.receive(more[0]!, 'p');
    b.receive(more[2]!, 'p');
    clock.advance(20);
    expect(describeFrames(r.ba.take())).toEqual(['A11']);
    // With ackEveryFrames full frames over half the window, the short delay throughout.
    const small = { windowBytes: 16 * DEFAULT_CHUNK_BYTES };
    const s = setup({ a: small, b: small });
    const sr = route('p', s.a, s.b);
    s.a.setPath(sr.ab);
    s.b.setPath(sr.ba);
    void s.a.send(makeBytes(3, 10 * DEFAULT_CHUNK_BYTES));
    for (const frame of sr.ab.take().slice(0, 4)) s.b.receive(frame, 'p');
    s.clock.advance(20);
    expect(describeFrames(sr.ba.take())).toEqual(['A4']);
  });
});
