import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { encodeSegments, MIN_REFERENCED_BYTES } from '../../../src-renderer/engine/link/msgpack-segments';

const bytes = (n: number, fill = 7) => new Uint8Array(n).fill(fill);
const join = (segments: Uint8Array[]) => Buffer.concat(segments.map((s) => Buffer.from(s.buffer, s.byteOffset, s.length)));
const big = bytes(MIN_REFERENCED_BYTES + 3, 9);
const values: unknown[] = [
  null, 1, 'x', bytes(10), big, [big], [0, { t: 'test', blob: big }], [0, { t: 'file', data: big, name: 'a.bin', at: new Date(5), n: 2 ** 40 }],
  { a: [1, 2, { b: big, c: bytes(300) }], d: undefined, e: Object.assign(Object.create(null) as object, { f: big }) },
  Array.from({ length: 20 }, (_, i) => (i === 19 ? big : i)), Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i === 3 ? big : 'v'])),
  Array.from({ length: 70_000 }, (_, i) => (i === 0 ? big : 0)), [bytes(70_000), bytes(300_000), bytes(MIN_REFERENCED_BYTES)],
  [[[[[[[[[[big]]]]]]]]]],
];

describe('encodeSegments', () => {
  it('gives the bytes of @msgpack/msgpack encode, whatever the value', () => {
    for (const value of values) expect(join(encodeSegments(value)).equals(Buffer.from(encode(value)))).toBe(true);
    // With a small minimum every binary along the way is referenced, bin 8 and bin 16 included.
    for (const value of values) expect(join(encodeSegments(value, 1)).equals(Buffer.from(encode(value)))).toBe(true);
  });

  it('references a large binary instead of copying it, and keeps small things in one segment', () => {
    const segments = encodeSegments([0, { t: 'test', blob: big }]);
    expect(segments).toHaveLength(2);
    expect(segments[1]).toBe(big);
    expect(encodeSegments([0, { t: 'ping', n: 1, small: bytes(100) }])).toHaveLength(1);
  });
});
