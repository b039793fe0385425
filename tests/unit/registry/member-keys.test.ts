/**
 * A member's keys are kept as copies of their own, not as views into the hello frame they came
 * in: a view keeps the whole frame and the socket read buffer under it alive for as long as the
 * console stays (docs/BENCHMARKS.md: ~550 bytes of malloc'd memory per console, scattered among
 * the read buffers, where the heap then cannot shrink).
 */
import { describe, expect, it } from 'vitest';
import { ownCopy } from '../../../src-main/registry/connection';
import { decodeClientFrame, encodeFrame } from '../../../src-shared/protocol/codec';
import { PROTOCOL_VERSION } from '../../../src-shared/protocol/signaling';

describe('a member keeps its keys, not the hello frame', () => {
  // As the registry receives it: a Buffer (ws hands over Buffers), decoded in place.
  const received = Buffer.from(
    encodeFrame({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      invite: 'x'.repeat(300),
      display_name: 'Ada',
      signing_key: new Uint8Array(32).fill(1),
      box_key: new Uint8Array(32).fill(2),
      box_key_sig: new Uint8Array(64).fill(3),
      nonce_sig: new Uint8Array(64).fill(4),
    }),
  );
  const decoded = decodeClientFrame(received);
  if (!decoded.ok || decoded.frame.type !== 'hello') throw new Error('the hello did not decode');
  const hello = decoded.frame;

  it('decoded keys are views into the frame (why a copy is needed)', () => {
    expect(hello.signing_key.buffer).toBe(received.buffer);
    // Buffer#slice is a view too: what the registry used to keep.
    expect(hello.signing_key.slice().buffer).toBe(received.buffer);
  });

  it('ownCopy holds the same bytes in memory of its own, sized to them', () => {
    const copy = ownCopy(hello.signing_key);
    expect([...copy]).toEqual([...hello.signing_key]);
    expect(copy.buffer).not.toBe(received.buffer);
    expect(copy.buffer.byteLength).toBe(32);
    received.fill(0);
    expect(copy.every((byte) => byte === 1)).toBe(true);
  });
});
