import { decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';

import { decodeEnvelope, decodeLinkSignal, encodeEnvelope, encodeLinkSignal, envelopeSchema, linkSignalSchema, newConnectionId, readEnvelope, readLinkSignal, signalMacBytes, signalSignedBytes, type LinkSignal } from '../../../src-renderer/engine/link/signal-codec';
import { seededRandom } from '../../support/seeded-random';

const FROM = 'conn_A-12345678';
const TO = 'connB_87654321-x';
const bytes = (length: number, fill = 7) => new Uint8Array(length).fill(fill);

const SDP = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n';

const description: LinkSignal = {
  v: 1,
  from: FROM,
  to: null,
  description: { type: 'offer', sdp: SDP },
};

const candidate: LinkSignal = {
  v: 1,
  from: FROM,
  to: TO,
  candidate: {
    candidate: 'candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 0.0.0.0 rport 0 generation 0',
    sdpMid: '0',
    sdpMLineIndex: 0,
    usernameFragment: 'f00d',
  },
};

const endOfCandidates: LinkSignal = { v: 1, from: FROM, to: TO, candidate: null };

/** A valid signal as a plain object, to break one field of before encoding. */
const base = () => ({ v: 1, from: FROM, to: TO, description: { type: 'answer', sdp: SDP } }) as Record<string, unknown>;

function expectError(result: ReturnType<typeof decodeLinkSignal>): string {
  expect(result).toHaveProperty('error');
  const error = (result as { error: unknown }).error;
  expect(typeof error).toBe('string');
  return error as string;
}

describe('link signal round trip', () => {
  it('a description signal', () => {
    const decoded = decodeLinkSignal(encodeLinkSignal(description));
    expect(decoded).toEqual(description);
    expect((decoded as LinkSignal).description).toEqual({ type: 'offer', sdp: SDP });
  });

  it('an answer addressed to a known connection', () => {
    const answer: LinkSignal = { ...description, to: TO, description: { type: 'answer', sdp: SDP } };
    expect(decodeLinkSignal(encodeLinkSignal(answer))).toEqual(answer);
  });

  it('a candidate signal', () => {
    expect(decodeLinkSignal(encodeLinkSignal(candidate))).toEqual(candidate);
    const nulls: LinkSignal = { ...candidate, candidate: { candidate: 'candidate:1 1 udp 1 10.0.0.1 9 typ host', sdpMid: null, sdpMLineIndex: null, usernameFragment: null } };
    expect(decodeLinkSignal(encodeLinkSignal(nulls))).toEqual(nulls);
  });

  it('end of candidates (candidate: null) stays null, distinct from no candidate', () => {
    const decoded = decodeLinkSignal(encodeLinkSignal(endOfCandidates)) as LinkSignal;
    expect(decoded).toEqual(endOfCandidates);
    expect(decoded.candidate).toBeNull();
    const none = decodeLinkSignal(encodeLinkSignal({ v: 1, from: FROM, to: TO })) as LinkSignal;
    expect('error' in none).toBe(false);
    expect(none.candidate).toBeUndefined();
  });

  it('an SDP of exactly 30000 characters is accepted', () => {
    const signal = { ...base(), description: { type: 'offer', sdp: 'a'.repeat(30_000) } };
    expect(decodeLinkSignal(encode(signal))).toEqual(signal);
  });
});

describe('decodeLinkSignal refuses bad payloads without throwing', () => {
  const cases: [string, Uint8Array][] = [
    ['empty bytes', new Uint8Array(0)],
    ['a reserved MessagePack byte', new Uint8Array([0xc1])],
    ['a truncated map', new Uint8Array([0x83, 0xa1, 0x76])],
    ['a map claiming 2^32-1 entries', new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff])],
    ['trailing bytes after a valid signal', new Uint8Array([...encodeLinkSignal(endOfCandidates), 0x00])],
    ['a number instead of a map', encode(42)],
    ['an array instead of a map', encode([1, FROM, TO])],
    ['nil', encode(null)],
    ['random bytes', new Uint8Array(Array.from({ length: 64 }, (_, i) => (i * 151 + 17) & 0xff))],
    ['wrong version v: 2', encode({ ...base(), v: 2 })],
    ['no version', encode({ from: FROM, to: TO })],
    ['a connection id with bad characters', encode({ ...base(), from: 'conn id!12' })],
    ['a connection id with a slash', encode({ ...base(), from: 'abcd/efgh' })],
    ['a connection id that is too short', encode({ ...base(), from: 'abc1234' })],
    ['a connection id that is too long', encode({ ...base(), from: 'a'.repeat(33) })],
    ['a bad `to` connection id', encode({ ...base(), to: 'short' })],
    ['an SDP over 30000 characters', encode({ ...base(), description: { type: 'offer', sdp: 'a'.repeat(30_001) } })],
    ['an unknown description type', encode({ ...base(), description: { type: 'pranswer', sdp: SDP } })],
    ['an sdpMLineIndex out of range', encode({ ...base(), candidate: { ...candidate.candidate!, sdpMLineIndex: 256 } })],
  ];

  for (const [name, payload] of cases) {
    it(name, () => {
      let result: ReturnType<typeof decodeLinkSignal> | undefined;
      expect(() => (result = decodeLinkSignal(payload))).not.toThrow();
      expect(expectError(result!).length).toBeGreaterThan(0);
    });
  }

  it('the error names the field that is wrong', () => {
    expect(expectError(decodeLinkSignal(encode({ ...base(), from: 'bad id!!' })))).toContain('from');
    expect(expectError(decodeLinkSignal(new Uint8Array([0xc1])))).toMatch(/MessagePack/);
  });
});

describe('authenticated envelope', () => {
  const certificate = { signKey: bytes(32, 1), boxKey: bytes(32, 2), startedAt: 1_700_000_000_000, signature: bytes(64, 3) };
  const envelope = { certificate, seq: 7, body: encodeLinkSignal(description), auth: { signature: bytes(64, 4) } };
  const macd = { ...envelope, auth: { mac: bytes(32, 5), recipientKeyId: bytes(8, 6) } };
  const raw = () => ({ v: 2, cert: { sign_key: bytes(32), box_key: bytes(32), started_at: 1, sig: bytes(64) }, seq: 1, body: bytes(10), sig: bytes(64) }) as Record<string, unknown>;
  const rawMac = () => ({ ...raw(), v: 3, sig: undefined, to_key: bytes(8), mac: bytes(32) }) as Record<string, unknown>;

  it('round-trips certificate, sequence, body and signature (v2)', () => {
    expect(decodeEnvelope(encodeEnvelope(envelope))).toEqual(envelope);
  });

  it('round-trips certificate, sequence, body, recipient session and MAC (v3)', () => {
    expect(decodeEnvelope(encodeEnvelope(macd))).toEqual(macd);
    expect(decodeEnvelope(encode(rawMac()))).not.toHaveProperty('error');
  });

  it('the MAC’d bytes bind the same fields and the recipient session, in their own domain', () => {
    const mac = (over: Partial<{ type: string; from: string; to: string; project: string; seq: number; recipient: Uint8Array }>) => {
      const v = { type: 'webrtc_offer', from: 'a', to: 'b', project: 'p', seq: 1, recipient: bytes(8), ...over };
      return Buffer.from(signalMacBytes(v.type, v.from, v.to, v.project, v.seq, v.recipient, bytes(4))).toString('hex');
    };
    const reference = mac({});
    for (const change of [{ type: 'webrtc_answer' }, { from: 'c' }, { to: 'c' }, { project: 'q' }, { seq: 2 }, { recipient: bytes(8, 9) }]) expect(mac(change)).not.toBe(reference);
    expect(reference).not.toBe(Buffer.from(signalSignedBytes('webrtc_offer', 'a', 'b', 'p', 1, bytes(4))).toString('hex'));
  });

  it('the signed bytes bind type, sender, recipient, project and sequence', () => {
    const signed = (over: Partial<{ type: string; from: string; to: string; project: string; seq: number }>) => {
      const v = { type: 'webrtc_offer', from: 'a', to: 'b', project: 'p', seq: 1, ...over };
      return Buffer.from(signalSignedBytes(v.type, v.from, v.to, v.project, v.seq, bytes(4))).toString('hex');
    };
    const reference = signed({});
    for (const change of [{ type: 'webrtc_answer' }, { from: 'c' }, { to: 'c' }, { project: 'q' }, { seq: 2 }]) expect(signed(change)).not.toBe(reference);
  });

  const bad: Array<[string, Record<string, unknown>]> = [
    ['version 1 (unsigned)', { ...raw(), v: 1 }],
    ['a session signing key of 31 bytes', { ...raw(), cert: { ...(raw().cert as object), sign_key: bytes(31) } }],
    ['a box key given as a string', { ...raw(), cert: { ...(raw().cert as object), box_key: 'a'.repeat(32) } }],
    ['a certificate signature of 63 bytes', { ...raw(), cert: { ...(raw().cert as object), sig: bytes(63) } }],
    ['sequence 0', { ...raw(), seq: 0 }],
    ['a fractional sequence', { ...raw(), seq: 1.5 }],
    ['a message signature of 65 bytes', { ...raw(), sig: bytes(65) }],
    ['no body', { ...raw(), body: undefined }],
    ['an unknown version 4', { ...rawMac(), v: 4 }],
    ['a MAC of 31 bytes', { ...rawMac(), mac: bytes(31) }],
    ['a recipient key id of 7 bytes', { ...rawMac(), to_key: bytes(7) }],
    ['version 3 without a recipient key id', { ...rawMac(), to_key: undefined }],
    ['version 3 with a signature instead of a MAC', { ...rawMac(), mac: undefined, sig: bytes(64) }],
  ];
  for (const [name, value] of bad) {
    it(`refuses ${name} with an error naming it, without throwing`, () => {
      let result: ReturnType<typeof decodeEnvelope> | undefined;
      expect(() => (result = decodeEnvelope(encode(value)))).not.toThrow();
      expect(result).toHaveProperty('error');
    });
  }
  it('refuses bytes that are not MessagePack', () => {
    expect(decodeEnvelope(new Uint8Array([0xc1]))).toEqual({ error: 'signaling payload is not MessagePack' });
  });
});

describe('newConnectionId', () => {
  it('matches the connection id schema', () => {
    for (let i = 0; i < 200; i++) {
      const id = newConnectionId();
      expect(id).toMatch(/^[A-Za-z0-9_-]{8,32}$/);
      expect(linkSignalSchema.safeParse({ v: 1, from: id, to: id }).success).toBe(true);
    }
  });

  it('1000 ids are distinct', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newConnectionId()));
    expect(ids.size).toBe(1000);
  });

  it('an id goes through a signal round trip', () => {
    const id = newConnectionId();
    const signal: LinkSignal = { v: 1, from: id, to: null, candidate: null };
    expect(decodeLinkSignal(encodeLinkSignal(signal))).toEqual(signal);
  });
});

/**
 * The fast paths (readLinkSignal, readEnvelope) read what consoles write without the schema
 * library; the schema keeps the last word. Whatever a fast path reads, the schema must accept
 * and give the same value; and the decoders' verdicts stay the schema's.
 */
describe('signals and envelopes read without the schema get the schema verdict', () => {
  const random = seededRandom(7);
  const pick = <T>(values: readonly T[]): T => values[random(values.length)]!;
  const odd = [null, undefined, 0, -1, 1, 1.5, 255, 256, 2 ** 53, NaN, '', 'x', 'offer', 'answer', FROM, 'a'.repeat(1025), 'a'.repeat(30_001), true, [], {}, bytes(8), bytes(32), bytes(64), bytes(32 * 1024 + 1)] as const;
  // (Bodies stay small in the bases: comparing 32 KiB values 20,000 times would take minutes; the
  // limit itself is among the odd values and checked directly below.)
  /** A copy of `value` with one field somewhere in it changed, removed or added. */
  function mutate(value: unknown): unknown {
    if (typeof value !== 'object' || value === null || value instanceof Uint8Array || Array.isArray(value)) return pick(odd);
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(copy);
    const edit = random(4);
    const key = pick(keys);
    if (edit === 0) delete copy[key];
    else if (edit === 1) copy[pick(['extra', 'v', 'to', 'link', 'sig', 'mac', 'to_key'])] = pick(odd);
    else if (edit === 2) copy[key] = pick(odd);
    else copy[key] = mutate(copy[key]);
    return copy;
  }
  function check(
    bases: unknown[],
    read: (raw: unknown) => unknown,
    schema: { safeParse(raw: unknown): { success: boolean; data?: unknown } },
    decodeBytes: (data: Uint8Array) => unknown,
  ): number {
    let read_ = 0;
    for (let i = 0; i < 20_000; i++) {
      let value = pick(bases);
      for (let edits = random(3); edits > 0; edits--) value = mutate(value);
      const data = encode(value);
      const raw = decode(data);
      const expected = schema.safeParse(raw);
      const fast = read(raw);
      if (fast) {
        read_++;
        expect(expected.success).toBe(true);
        expect(fast).toEqual(expected.data);
      }
      const decoded = decodeBytes(data);
      if (expected.success) expect(decoded).not.toHaveProperty('error');
      else expect(decoded).toHaveProperty('error');
    }
    return read_;
  }

  it('link signals', () => {
    const bases = [description, { ...description, to: TO, link: 3 }, candidate, endOfCandidates, { ...candidate, link: Number.MAX_SAFE_INTEGER }, base()];
    for (const value of bases) expect(readLinkSignal(decode(encode(value)))).toEqual(linkSignalSchema.parse(value));
    const read = check(bases, readLinkSignal, linkSignalSchema, decodeLinkSignal);
    expect(read).toBeGreaterThan(2_000); // the unchanged and harmlessly changed ones
  });

  it('envelopes, signed and MAC’d', () => {
    const cert = { sign_key: bytes(32, 1), box_key: bytes(32, 2), started_at: 1_700_000_000_000, sig: bytes(64, 3) };
    const signed = { v: 2, cert, seq: 7, body: bytes(30), sig: bytes(64, 4) };
    const macd = { v: 3, cert, seq: 8, body: bytes(40), to_key: bytes(8, 6), mac: bytes(32, 5) };
    for (const value of [signed, macd, { ...macd, body: bytes(32 * 1024) }]) expect(readEnvelope(decode(encode(value)))).toEqual(envelopeSchema.parse(value));
    const read = check([signed, macd, { ...signed, seq: 2 ** 40 }], readEnvelope, envelopeSchema, decodeEnvelope);
    expect(read).toBeGreaterThan(2_000);
  });
});
