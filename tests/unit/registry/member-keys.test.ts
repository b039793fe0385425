/**
 * What a member keeps of its hello (member-keys.ts): its keys and session certificate packed into
 * one string. Peers must be told exactly what the console sent; nothing may stay tied to the
 * frame it came in (a view into it kept the whole frame and the socket read buffer under it alive
 * for as long as the console stayed: docs/BENCHMARKS.md).
 */
import { describe, expect, it } from 'vitest';
import { packKeys, unpackKeys } from '../../../src-main/registry/member-keys';
import { decodeClientFrame, encodeFrame } from '../../../src-shared/protocol/codec';
import { PROTOCOL_VERSION } from '../../../src-shared/protocol/signaling';

const bytes = (length: number, from: number) => Uint8Array.from({ length }, (_, i) => (from + i * 7) % 256);

function receivedHello(sessionCert?: Uint8Array) {
  // As the registry receives it: a Buffer (ws hands over Buffers), decoded in place.
  const received = Buffer.from(
    encodeFrame({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      invite: 'x'.repeat(300),
      display_name: 'Ada',
      signing_key: bytes(32, 1),
      box_key: bytes(32, 2),
      box_key_sig: bytes(64, 3),
      nonce_sig: bytes(64, 4),
      ...(sessionCert ? { session_cert: sessionCert } : {}),
    }),
  );
  const decoded = decodeClientFrame(received);
  if (!decoded.ok || decoded.frame.type !== 'hello') throw new Error('the hello did not decode');
  return { received, hello: decoded.frame };
}

const plain = (fields: Record<string, Uint8Array | undefined>) => Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v && [...v]]));

describe('a member keeps its keys, not its hello frame', () => {
  it('gives back exactly the keys sent, with or without a session certificate (even an empty one)', () => {
    for (const cert of [undefined, bytes(180, 9), new Uint8Array(0)]) {
      const { hello } = receivedHello(cert);
      const { signing_key, box_key, box_key_sig, session_cert } = hello;
      const unpacked = unpackKeys(packKeys(hello));
      expect(plain(unpacked)).toEqual(plain({ signing_key, box_key, box_key_sig, ...(session_cert ? { session_cert } : {}) }));
      expect('session_cert' in unpacked).toBe(cert !== undefined);
    }
  });

  it('shares no memory with the frame: the frame can go (or change) and the keys stay', () => {
    const { received, hello } = receivedHello(bytes(100, 5));
    // The decoded keys are views into the frame, and so is a Buffer's slice(): what the registry kept before.
    expect(hello.signing_key.buffer).toBe(received.buffer);
    expect(hello.signing_key.slice().buffer).toBe(received.buffer);
    const packed = packKeys(hello);
    const expected = [...hello.session_cert!];
    received.fill(0);
    expect([...unpackKeys(packed).session_cert!]).toEqual(expected);
    // One byte per character: 1 + 128 + 100 bytes of keys.
    expect(packed.length).toBe(229);
  });

  it('refuses keys of the wrong length rather than shifting every field after them', () => {
    expect(() => packKeys({ signing_key: bytes(31, 0), box_key: bytes(32, 0), box_key_sig: bytes(64, 0) })).toThrow(/wrong length/);
  });
});
