import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { msgpackLengthAtLeast } from '../../../src-renderer/engine/link/msgpack-length';

const big = (n: number) => new Uint8Array(n).fill(7);
const values: unknown[] = [
  0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32, -1, -33, -129, -40_000, -(2 ** 31) - 1, 1.5, Number.MAX_VALUE,
  null, true, false, '', 'a', 'x'.repeat(31), 'x'.repeat(32), 'é'.repeat(200), 'y'.repeat(70_000),
  big(0), big(10), big(300), big(70_000), [], [1, 2, 3], Array.from({ length: 20 }, (_, i) => i), Array.from({ length: 70_000 }, () => 1),
  {}, { a: 1 }, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
  new Date(1_700_000_000_000), new Date(1_700_000_000_123), new Date(-1),
  // What a link carries: the envelope [kind, body] around an application message.
  [0, { t: 'test', blob: big(200_000) }],
  [0, { t: 'file', data: big(100_000), name: 'report.pdf', offset: 3 }],
  [1, 1234.5],
];

describe('msgpackLengthAtLeast', () => {
  it('gives the exact length of a whole value, and never more than it from any prefix', () => {
    for (const value of values) {
      const bytes = encode(value);
      expect(msgpackLengthAtLeast(bytes), JSON.stringify(value)?.slice(0, 40)).toBe(bytes.length);
      for (const cut of [1, 2, 3, 5, 9, 17, 100, 1000, 49_152].filter((n) => n < bytes.length)) {
        const answer = msgpackLengthAtLeast(bytes.subarray(0, cut));
        if (answer !== undefined) expect(answer).toBeLessThanOrEqual(bytes.length);
      }
    }
  });

  it('is exact from the first 48 KiB chunk of a large message whose payload comes last', () => {
    const bytes = encode([0, { t: 'test', blob: big(64 * 1024 * 1024) }]);
    expect(msgpackLengthAtLeast(bytes.subarray(0, 49_152))).toBe(bytes.length);
  });

  it('gives a lower bound when something follows the payload', () => {
    const bytes = encode([0, { t: 'file', data: big(100_000), name: 'report.pdf' }]);
    const answer = msgpackLengthAtLeast(bytes.subarray(0, 49_152))!;
    expect(answer).toBeGreaterThan(100_000);
    expect(answer).toBeLessThan(bytes.length);
  });

  it('answers undefined for bytes that are not MessagePack or a prefix ending within a header', () => {
    expect(msgpackLengthAtLeast(new Uint8Array([0xc1]))).toBeUndefined();
    expect(msgpackLengthAtLeast(new Uint8Array([0x92, 0x00, 0xc6, 0x00]))).toBeUndefined();
    expect(msgpackLengthAtLeast(new Uint8Array([]))).toBe(1);
  });
});
