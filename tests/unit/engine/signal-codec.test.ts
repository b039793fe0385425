import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';

import { decodeLinkSignal, encodeLinkSignal, linkSignalSchema, newConnectionId, type LinkSignal } from '../../../src-renderer/engine/link/signal-codec';

const FROM = 'conn_A-12345678';
const TO = 'connB_87654321-x';
const bytes = (length: number, fill = 7) => new Uint8Array(length).fill(fill);

const SDP = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n';

const description: LinkSignal = {
  v: 1,
  from: FROM,
  to: null,
  session: { key: bytes(32, 1), sig: bytes(64, 2) },
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
  it('a description signal with the session key', () => {
    const decoded = decodeLinkSignal(encodeLinkSignal(description));
    expect(decoded).toEqual(description);
    const signal = decoded as LinkSignal;
    expect(signal.session!.key).toBeInstanceOf(Uint8Array);
    expect(signal.session!.key).toEqual(bytes(32, 1));
    expect(signal.session!.sig).toEqual(bytes(64, 2));
    expect(signal.description).toEqual({ type: 'offer', sdp: SDP });
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
    ['a session key of 31 bytes', encode({ ...base(), session: { key: bytes(31), sig: bytes(64) } })],
    ['a session key of 33 bytes', encode({ ...base(), session: { key: bytes(33), sig: bytes(64) } })],
    ['a session key given as a string', encode({ ...base(), session: { key: 'a'.repeat(32), sig: bytes(64) } })],
    ['a session key of null', encode({ ...base(), session: { key: null, sig: bytes(64) } })],
    ['a signature of 63 bytes', encode({ ...base(), session: { key: bytes(32), sig: bytes(63) } })],
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
    expect(expectError(decodeLinkSignal(encode({ ...base(), session: { key: bytes(31), sig: bytes(64) } })))).toContain('session.key');
    expect(expectError(decodeLinkSignal(encode({ ...base(), from: 'bad id!!' })))).toContain('from');
    expect(expectError(decodeLinkSignal(new Uint8Array([0xc1])))).toMatch(/MessagePack/);
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
