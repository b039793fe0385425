/** Link ids: how a link tells the peer's current link from an older one, and relay frames that carry them. */
import { describe, expect, it } from 'vitest';
import { decodeRelayFrame, encodeRelayFrame, LinkEpochs, RELAY_LINK_HEADER_BYTES } from '../../../src-renderer/engine/link/link-epochs';

const counter = (start = 0) => {
  let n = start;
  return () => ++n;
};

describe('LinkEpochs', () => {
  it('adopts the first link it hears of, and drops an older one', () => {
    const e = new LinkEpochs(counter());
    expect(e.observe(7)).toBe('current');
    expect(e.observe(7)).toBe('current');
    expect(e.observe(5)).toBe('stale');
    expect(e.remote).toBe(7);
  });

  it('a newer link of the peer restarts the stream only if the stream heard from the older one', () => {
    const quiet = new LinkEpochs(counter());
    quiet.observe(7);
    expect(quiet.observe(9)).toBe('readdress');
    const talked = new LinkEpochs(counter());
    talked.observe(7);
    talked.exchanged();
    expect(talked.observe(9)).toBe('restart');
    talked.restarted();
    talked.exchanged();
    expect(talked.observe(9)).toBe('current'); // no second restart for the same link
  });

  it('accepts frames addressed to its current id or to none; a restart gives it a new, greater id', () => {
    const e = new LinkEpochs(counter(40));
    expect(e.local).toBe(41);
    expect([e.accepts(41), e.accepts(0), e.accepts(40)]).toEqual([true, true, false]);
    e.restarted();
    expect(e.local).toBe(42);
    expect(e.accepts(41)).toBe(false);
  });

  it('forgets the peer’s links when the peer starts a new session (its ids start again)', () => {
    const e = new LinkEpochs(counter());
    e.observe(90);
    e.exchanged();
    e.forgetRemote();
    expect(e.observe(3)).toBe('current');
  });
});

describe('relay frames with link ids', () => {
  it('round-trip', () => {
    const frame = new Uint8Array([0x94, 0, 1, 0xc2, 0xc4, 0]);
    const encoded = encodeRelayFrame(12, 34, frame);
    expect(encoded.length).toBe(RELAY_LINK_HEADER_BYTES + frame.length);
    expect(decodeRelayFrame(encoded)).toEqual({ from: 12, to: 34, frame });
  });

  it('a bare stream frame (an older console) or malformed ids are refused with a reason', () => {
    expect(decodeRelayFrame(new Uint8Array([0x92, 1, 0]))).toEqual({ error: expect.stringContaining('without link ids') });
    const bad = encodeRelayFrame(1, 0, new Uint8Array());
    new DataView(bad.buffer).setFloat64(1, 0.5);
    expect(decodeRelayFrame(bad)).toEqual({ error: expect.stringContaining('malformed') });
  });
});
