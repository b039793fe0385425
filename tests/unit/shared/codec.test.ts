import { describe, expect, it } from 'vitest';
import { decode, encode } from '@msgpack/msgpack';
import { decodeClientFrame, decodeServerFrame, encodeFrame, forwardPrefix, forwardedSignalLength, readForwardedSignal, readSignalFrame, writeForwardedSignal } from '../../../src-shared/protocol/codec';
import { MAX_SIGNAL_PAYLOAD_BYTES, PROTOCOL_VERSION, clientFrameSchema, serverFrameSchema, type ClientFrame, type PeerInfo, type ServerFrame } from '../../../src-shared/protocol/signaling';
import { seededRandom } from '../../support/seeded-random';

const ADA = 'a'.repeat(26);
const BOB = 'b2b2b2b2b2b2b2b2b2b2b2b2b2';
const bytes = (length: number, fill = 7) => new Uint8Array(length).fill(fill);

const hello: ClientFrame = {
  type: 'hello',
  protocol: PROTOCOL_VERSION,
  invite: 'header.payload.signature',
  display_name: 'Ada',
  signing_key: bytes(32, 1),
  box_key: bytes(32, 2),
  box_key_sig: bytes(64, 3),
  nonce_sig: bytes(64, 4),
};

const clientFrames: ClientFrame[] = [
  hello,
  { type: 'webrtc_offer', to_peer_id: BOB, payload: bytes(100) },
  { type: 'webrtc_answer', to_peer_id: BOB, payload: bytes(50) },
  { type: 'webrtc_ice_candidate', to_peer_id: BOB, payload: bytes(10) },
  { type: 'relay', to_peer_id: BOB, payload: bytes(2000) },
];

const peer: PeerInfo = {
  peer_id: ADA,
  display_name: 'Ada',
  signing_key: bytes(32, 1),
  box_key: bytes(32, 2),
  box_key_sig: bytes(64, 3),
  joined_at: 1_700_000_000_000,
};

const serverFrames: ServerFrame[] = [
  { type: 'challenge', protocol: PROTOCOL_VERSION, nonce: bytes(32, 9) },
  {
    type: 'welcome',
    protocol: PROTOCOL_VERSION,
    peer_id: BOB,
    project_id: 'team-alpha',
    peers: [peer],
    ice_servers: [{ urls: ['stun:stun.example.org:3478'] }, { urls: ['turn:turn.example.org'], username: 'u', credential: 'p' }],
    ice_servers_expire_at: 1_700_000_360_000,
    limits: { max_frame_bytes: 65536, frames_per_second: 20, burst: 40, heartbeat_ms: 15000 },
  },
  { type: 'peer_joined', peer },
  { type: 'relay', from_peer_id: ADA, to_peer_id: BOB, payload: bytes(300) },
  {
    type: 'relay_usage',
    peer_id: ADA,
    pair_bytes: 1000,
    pair_bytes_per_s: 100,
    project_bytes_today: 5000,
    pair_budget_bytes_per_s: 2_097_152,
    project_budget_bytes_per_day: 1e10,
  },
  { type: 'ice_servers', ice_servers: [{ urls: ['turn:t'], username: '1:x', credential: 'c' }], expires_at: 1 },
  { type: 'peer_left', peer_id: ADA, reason: 'timeout' },
  { type: 'webrtc_offer', from_peer_id: ADA, to_peer_id: BOB, payload: bytes(100) },
  { type: 'webrtc_answer', from_peer_id: BOB, to_peer_id: ADA, payload: bytes(100) },
  { type: 'webrtc_ice_candidate', from_peer_id: ADA, to_peer_id: BOB, payload: bytes(1) },
  { type: 'error', code: 'UNKNOWN_PEER', message: 'to_peer_id is not a console of this project', ref_type: 'webrtc_offer' },
  { type: 'error', code: 'RATE_LIMITED', message: 'slow down' },
];

type Failure = { ok: false; code: 'BAD_FRAME'; message: string; type?: string };

/** Decodes with both decoders' failure contract: never throws, always BAD_FRAME with a message. */
function expectBadClientFrame(data: Uint8Array): Failure {
  let result: ReturnType<typeof decodeClientFrame> | undefined;
  expect(() => (result = decodeClientFrame(data))).not.toThrow();
  expect(result).toMatchObject({ ok: false, code: 'BAD_FRAME' });
  const failure = result as Failure;
  expect(failure.message.length).toBeGreaterThan(0);
  return failure;
}

describe('round trip', () => {
  it.each(clientFrames.map((f) => [f.type, f] as const))('client frame %s survives encode → decodeClientFrame', (_type, frame) => {
    expect(decodeClientFrame(encodeFrame(frame))).toEqual({ ok: true, frame });
  });

  it.each(serverFrames.map((f, i) => [`${f.type} #${i}`, f] as const))('server frame %s survives encode → decodeServerFrame', (_type, frame) => {
    expect(decodeServerFrame(encodeFrame(frame))).toEqual({ ok: true, frame });
  });

  it('binary fields come back as Uint8Array, not as arrays or strings', () => {
    const result = decodeClientFrame(encodeFrame(hello));
    expect(result.ok && result.frame.type === 'hello' && result.frame.signing_key).toBeInstanceOf(Uint8Array);
  });

  it('a client frame is not accepted as a server frame (no from_peer_id) and vice versa', () => {
    expect(decodeServerFrame(encodeFrame(clientFrames[1]!))).toMatchObject({ ok: false, code: 'BAD_FRAME' });
    expect(decodeClientFrame(encodeFrame(serverFrames[0]!))).toMatchObject({ ok: false, code: 'BAD_FRAME' });
  });
});

describe('malformed input gives BAD_FRAME, never a throw', () => {
  it('garbage bytes', () => {
    const failure = expectBadClientFrame(new Uint8Array([0xc1, 0xff, 0x00, 0x13]));
    expect(failure.message).toMatch(/MessagePack/);
    expect(decodeServerFrame(new Uint8Array([0xc1]))).toMatchObject({ ok: false, code: 'BAD_FRAME', message: expect.stringMatching(/MessagePack/) });
  });

  it('an empty frame', () => {
    expect(expectBadClientFrame(new Uint8Array(0)).message).toMatch(/MessagePack/);
  });

  it('truncated MessagePack', () => {
    const full = encodeFrame(hello);
    const failure = expectBadClientFrame(full.subarray(0, full.length - 10));
    expect(failure.message).toMatch(/MessagePack/);
  });

  it('a truncated frame does not disturb the next, valid one', () => {
    const full = encodeFrame(hello);
    expectBadClientFrame(full.subarray(0, 20));
    expect(decodeClientFrame(full)).toEqual({ ok: true, frame: hello });
  });

  it('a value that is not a map', () => {
    for (const value of [42, 'hello', [1, 2, 3], null, new Uint8Array([1])]) {
      const failure = expectBadClientFrame(encode(value));
      expect(failure.message).toMatch(/^invalid frame: /);
      expect(failure.type).toBeUndefined();
    }
  });

  it('an unknown type', () => {
    const failure = expectBadClientFrame(encode({ type: 'shutdown_registry', to_peer_id: BOB }));
    expect(failure.message).toMatch(/^invalid shutdown_registry: type: /);
    expect(failure.message).toContain('webrtc_offer'); // says which types are known
    expect(failure.type).toBe('shutdown_registry');
  });

  it('a map without a type', () => {
    expect(expectBadClientFrame(encode({ to_peer_id: BOB, payload: bytes(1) })).message).toMatch(/^invalid frame: type: /);
  });

  it('wrong field types name the field', () => {
    const asString = expectBadClientFrame(encode({ ...hello, protocol: '1' }));
    expect(asString.message).toMatch(/^invalid hello: protocol: /);
    expect(asString.type).toBe('hello');

    // A payload sent as an array of numbers instead of MessagePack bin.
    const asArray = expectBadClientFrame(encode({ type: 'webrtc_offer', to_peer_id: BOB, payload: [1, 2, 3] }));
    expect(asArray.message).toBe('invalid webrtc_offer: payload: must be binary');

    const badPeer = expectBadClientFrame(encode({ type: 'webrtc_answer', to_peer_id: 'not-a-peer', payload: bytes(1) }));
    expect(badPeer.message).toMatch(/^invalid webrtc_answer: to_peer_id: /);
    expect(badPeer.message).toContain('peer_id');
  });

  it('a nested field error names the path', () => {
    const welcome = serverFrames[1] as Extract<ServerFrame, { type: 'welcome' }>;
    const result = decodeServerFrame(encode({ ...welcome, peers: [{ ...peer, box_key: bytes(31) }] }));
    expect(result).toMatchObject({ ok: false, code: 'BAD_FRAME', type: 'welcome' });
    expect(!result.ok && result.message).toBe('invalid welcome: peers.0.box_key: must be 32 bytes');
  });

  it('a 31-byte signing_key', () => {
    const failure = expectBadClientFrame(encode({ ...hello, signing_key: bytes(31) }));
    expect(failure.message).toBe('invalid hello: signing_key: must be 32 bytes');
  });

  it('a signaling payload over MAX_SIGNAL_PAYLOAD_BYTES', () => {
    const atLimit = { type: 'webrtc_offer', to_peer_id: BOB, payload: bytes(MAX_SIGNAL_PAYLOAD_BYTES) } as const;
    expect(decodeClientFrame(encodeFrame(atLimit)).ok).toBe(true);
    const failure = expectBadClientFrame(encode({ ...atLimit, payload: bytes(MAX_SIGNAL_PAYLOAD_BYTES + 1) }));
    expect(failure.message).toBe(`invalid webrtc_offer: payload: must be at most ${MAX_SIGNAL_PAYLOAD_BYTES} bytes`);
  });

  it('an unknown error code from a registry', () => {
    const result = decodeServerFrame(encode({ type: 'error', code: 'TEAPOT', message: 'x' }));
    expect(result).toMatchObject({ ok: false, code: 'BAD_FRAME', type: 'error', message: expect.stringContaining('code') });
  });
});

describe('display names lose explicit bidirectional formatting, wherever they are read', () => {
  const RLO = '\u202e';
  it('a right-to-left override that would make "ecilA" read "Alice" is taken out: what is shown is what trust on first use compares', () => {
    const decoded = decodeServerFrame(encode({ type: 'peer_joined', peer: { ...peer, display_name: `${RLO}ecilA` } }));
    expect(decoded).toMatchObject({ ok: true, frame: { peer: { display_name: 'ecilA' } } });
    const renamed = decodeClientFrame(encode({ type: 'update_presence', display_name: `Bob ${RLO}live\u202c \u2067x\u2069` }));
    expect(renamed).toMatchObject({ ok: true, frame: { display_name: 'Bob live x' } });
  });

  it('a name of nothing but formatting is refused like an empty one; right-to-left scripts and direction marks are kept', () => {
    expect(decodeClientFrame(encode({ type: 'update_presence', display_name: `${RLO}\u2066 ` })).ok).toBe(false);
    expect(decodeClientFrame(encode({ type: 'update_presence', display_name: 'مريم \u200fMaryam' }))).toMatchObject({ ok: true, frame: { display_name: 'مريم \u200fMaryam' } });
  });
});

describe('unknown fields', () => {
  it('a client cannot forge from_peer_id: it is stripped from a client webrtc_offer', () => {
    const result = decodeClientFrame(encode({ type: 'webrtc_offer', to_peer_id: BOB, payload: bytes(3), from_peer_id: ADA }));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.frame).toEqual({ type: 'webrtc_offer', to_peer_id: BOB, payload: bytes(3) });
    expect('from_peer_id' in result.frame).toBe(false);
  });

  it('extra fields on a hello and a server frame are dropped', () => {
    const client = decodeClientFrame(encode({ ...hello, admin: true }));
    expect(client).toEqual({ ok: true, frame: hello });
    const server = decodeServerFrame(encode({ type: 'peer_left', peer_id: ADA, reason: 'closed', extra: 'x' }));
    expect(server).toEqual({ ok: true, frame: { type: 'peer_left', peer_id: ADA, reason: 'closed' } });
  });
});

/**
 * 20,000 frames made from `bases` by one random edit each (a byte, a bit within the first
 * `headBytes`, cut short, one byte more): whatever the fast path reads must be what the schema
 * makes of the decoded frame, and the decoding function must agree with the schema. Returns how
 * many the fast path read.
 */
function fuzzFastPath(
  bases: Uint8Array[],
  seed: number,
  headBytes: number,
  check: { fast: (data: Uint8Array) => unknown; schema: (data: Uint8Array) => { success: boolean; data?: unknown }; decode: (data: Uint8Array) => boolean },
): number {
  const random = seededRandom(seed);
  let read = 0;
  for (let i = 0; i < 20_000; i++) {
    let data = Uint8Array.from(bases[random(bases.length)]!);
    const edit = random(4);
    if (edit === 0) data[random(data.length)] = random(256);
    else if (edit === 1) data[random(headBytes)]! ^= 1 << random(8);
    else if (edit === 2) data = data.subarray(0, random(data.length));
    else data = Uint8Array.from([...data, random(256)]);
    const expected = check.schema(data);
    const fast = check.fast(data);
    if (fast) {
      read++;
      expect(expected.success).toBe(true);
      expect(fast).toEqual(expected.data);
    }
    expect(check.decode(data)).toBe(expected.success);
  }
  return read;
}

describe('signal frames read from their bytes (readSignalFrame) get the schema verdict', () => {
  const good = { type: 'webrtc_ice_candidate', to_peer_id: BOB, payload: bytes(10) };
  const values: unknown[] = [
    good,
    { ...good, type: 'webrtc_offer' },
    { ...good, type: 'webrtc_answer', payload: bytes(0) },
    { ...good, payload: bytes(255) },
    { ...good, payload: bytes(256) },
    { ...good, payload: bytes(MAX_SIGNAL_PAYLOAD_BYTES) },
    { ...good, payload: bytes(MAX_SIGNAL_PAYLOAD_BYTES + 1) },
    { ...good, type: 'relay' },
    { ...good, type: 'webrtc_candidate' },
    { ...good, type: 1 },
    { ...good, to_peer_id: BOB.toUpperCase() },
    { ...good, to_peer_id: BOB.slice(1) },
    { ...good, to_peer_id: `${BOB}a` },
    { ...good, to_peer_id: `${BOB.slice(1)}\n` },
    { ...good, to_peer_id: 'a'.repeat(25) + '1' },
    { ...good, to_peer_id: 'a'.repeat(24) + 'é' },
    { ...good, to_peer_id: 42 },
    { ...good, payload: [1, 2, 3] },
    { ...good, payload: 'abc' },
    { ...good, payload: null },
    { ...good, from_peer_id: ADA },
    { ...good, extra: null },
    { to_peer_id: BOB, type: good.type, payload: bytes(1) },
    { type: good.type, to_peer_id: BOB },
    { type: good.type, payload: bytes(1) },
    [good.type, BOB, bytes(1)],
    null,
    7,
  ];
  const schemaVerdict = (data: Uint8Array) => {
    try {
      return clientFrameSchema.safeParse(decode(data));
    } catch {
      return { success: false as const, data: undefined };
    }
  };

  it('reads every signal type as a console encodes it, without the decoder', () => {
    for (const frame of clientFrames.filter((f) => f.type.startsWith('webrtc_'))) expect(readSignalFrame(encodeFrame(frame))).toEqual(frame);
  });

  it.each(values.map((v, i) => [i, v] as const))('value #%i', (_i, value) => {
    const data = encode(value);
    const expected = schemaVerdict(data);
    const result = decodeClientFrame(data);
    expect(result.ok).toBe(expected.success);
    if (result.ok) expect(result.frame).toEqual(expected.data);
    const read = readSignalFrame(data);
    if (read) expect(read).toEqual(expected.data);
  });

  it('agrees with the decoder and the schema on 20,000 mutated, cut and extended frames', () => {
    const bases = [bytes(10), bytes(300)].flatMap((payload) =>
      (['webrtc_offer', 'webrtc_answer', 'webrtc_ice_candidate'] as const).map((type) => encodeFrame({ type, to_peer_id: BOB, payload } as ClientFrame)),
    );
    // The edits within the header and the peer_id: its first 60 bytes.
    const read = fuzzFastPath(bases, 19, 60, { fast: readSignalFrame, schema: schemaVerdict, decode: (data) => decodeClientFrame(data).ok });
    expect(read).toBeGreaterThan(1000); // payload bytes changed: still read without the decoder
  });
});

describe('forwarded signal frames read from their bytes (readForwardedSignal) get the schema verdict', () => {
  const schemaVerdict = (data: Uint8Array) => {
    try {
      return serverFrameSchema.safeParse(decode(data));
    } catch {
      return { success: false as const, data: undefined };
    }
  };
  /** What the registry sends: from_peer_id's entry, then the sender's entries as received. */
  const forwarded = (received: Uint8Array, from = ADA) => {
    const prefix = forwardPrefix(from);
    const out = new Uint8Array(forwardedSignalLength(received, prefix)!);
    writeForwardedSignal(out, 0, received, prefix);
    return out;
  };

  it('reads every signal type as the registry forwards it, without the decoder', () => {
    for (const type of ['webrtc_offer', 'webrtc_answer', 'webrtc_ice_candidate'] as const) {
      for (const payload of [bytes(0), bytes(300), bytes(MAX_SIGNAL_PAYLOAD_BYTES)]) {
        const data = forwarded(encodeFrame({ type, to_peer_id: BOB, payload } as ClientFrame));
        expect(readForwardedSignal(data)).toEqual({ type, from_peer_id: ADA, to_peer_id: BOB, payload });
        expect(decodeServerFrame(data)).toEqual({ ok: true, frame: schemaVerdict(data).data });
      }
    }
  });

  it('leaves other forms to the decoder: a relay frame, another key order, a bad from_peer_id', () => {
    const relay = encodeFrame({ type: 'relay', from_peer_id: ADA, to_peer_id: BOB, payload: bytes(5) } as ServerFrame);
    expect(readForwardedSignal(relay)).toBeUndefined();
    expect(decodeServerFrame(relay).ok).toBe(true);
    const reordered = encode({ type: 'webrtc_offer', from_peer_id: ADA, to_peer_id: BOB, payload: bytes(5) });
    expect(readForwardedSignal(reordered)).toBeUndefined();
    expect(decodeServerFrame(reordered).ok).toBe(true);
    const badFrom = forwarded(encodeFrame({ type: 'webrtc_offer', to_peer_id: BOB, payload: bytes(5) } as ClientFrame), 'A'.repeat(26));
    expect(readForwardedSignal(badFrom)).toBeUndefined();
    expect(decodeServerFrame(badFrom)).toMatchObject({ ok: false, code: 'BAD_FRAME' });
  });

  it('agrees with the decoder and the schema on 20,000 mutated, cut and extended frames', () => {
    const bases = [bytes(10), bytes(300)].flatMap((payload) =>
      (['webrtc_offer', 'webrtc_answer', 'webrtc_ice_candidate'] as const).map((type) => forwarded(encodeFrame({ type, to_peer_id: BOB, payload } as ClientFrame))),
    );
    // The edits within the header and both peer_ids: the first 100 bytes.
    const read = fuzzFastPath(bases, 23, 100, { fast: readForwardedSignal, schema: schemaVerdict, decode: (data) => decodeServerFrame(data).ok });
    expect(read).toBeGreaterThan(1000);
  });
});

describe('forwarding a received signal without encoding it again', () => {
  const forward = (received: Uint8Array, from: string) => {
    const prefix = forwardPrefix(from);
    const length = forwardedSignalLength(received, prefix);
    if (length === undefined) return undefined;
    // Written into a larger buffer, as the registry does (behind a WebSocket header).
    const out = new Uint8Array(length + 4).fill(0xee);
    writeForwardedSignal(out, 4, received, prefix);
    expect(out.subarray(0, 4)).toEqual(new Uint8Array(4).fill(0xee));
    return out.subarray(4);
  };

  it.each(['webrtc_offer', 'webrtc_answer', 'webrtc_ice_candidate'] as const)('%s reads as the frame the registry would encode', (type) => {
    const received = encodeFrame({ type, to_peer_id: BOB, payload: bytes(300) } as ClientFrame);
    const forwarded = forward(received, ADA);
    expect(forwarded).toBeDefined();
    expect(decodeServerFrame(forwarded!)).toEqual({ ok: true, frame: { type, from_peer_id: ADA, to_peer_id: BOB, payload: bytes(300) } });
    expect(decode(forwarded!)).toEqual(decode(encodeFrame({ type, from_peer_id: ADA, to_peer_id: BOB, payload: bytes(300) } as ServerFrame)));
  });

  it('leaves a frame of more entries (a forged from_peer_id), or a map written in a longer form, to be encoded again', () => {
    expect(forward(encode({ type: 'webrtc_offer', to_peer_id: BOB, payload: bytes(3), from_peer_id: ADA }), ADA)).toBeUndefined();
    // The same three entries behind a map16 header (0xde 0x00 0x03): valid MessagePack, not copied.
    const entries = encodeFrame({ type: 'webrtc_offer', to_peer_id: BOB, payload: bytes(3) }).subarray(1);
    const map16 = new Uint8Array([0xde, 0x00, 0x03, ...entries]);
    expect(decodeClientFrame(map16).ok).toBe(true);
    expect(forward(map16, ADA)).toBeUndefined();
  });
});
