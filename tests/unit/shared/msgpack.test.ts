import { describe, expect, it } from 'vitest';
import { encode as libraryEncode } from '@msgpack/msgpack';
import { encode } from '../../../src-shared/msgpack';

describe('shared MessagePack encoder', () => {
  it('gives the library’s bytes, each result in its own memory', () => {
    const values = [[1, 'offer', new Uint8Array([1, 2, 3])], { v: 1, from: 'abcdefgh', to: null }, 'x'.repeat(300)];
    const results = values.map((value) => encode(value));
    results.forEach((bytes, i) => expect(bytes).toEqual(libraryEncode(values[i])));
    // A later encode must not overwrite an earlier result (the shared buffer is copied out).
    expect(new Set(results.map((bytes) => bytes.buffer)).size).toBe(results.length);
    expect(results[0]).toEqual(libraryEncode(values[0]));
  });

  it('encodes correctly after a value larger than the buffer it keeps', () => {
    const large = new Uint8Array(200 * 1024).fill(7);
    expect(encode({ large })).toEqual(libraryEncode({ large }));
    expect(encode([1, 2])).toEqual(libraryEncode([1, 2]));
  });
});
