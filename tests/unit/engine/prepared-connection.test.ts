import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionPreparer, SETTLE_MS } from '../../../src-renderer/engine/link/prepared-connection';

/** Just enough of an RTCPeerConnection: the preparer creates the channel and sets the offer. */
class FakePeerConnection {
  signalingState: RTCSignalingState = 'stable';
  closed = false;
  channels: Array<{ label: string; init: RTCDataChannelInit }> = [];
  rejectConfiguration = false;
  constructor(public configuration: RTCConfiguration) {}
  setConfiguration(configuration: RTCConfiguration) {
    if (this.rejectConfiguration) throw new Error('InvalidModificationError');
    this.configuration = configuration;
  }
  createDataChannel(label: string, init: RTCDataChannelInit) {
    this.channels.push({ label, init });
    return { label } as unknown as RTCDataChannel;
  }
  async setLocalDescription() {
    this.signalingState = 'have-local-offer';
  }
  close() {
    this.closed = true;
  }
}

const config = (urls: string): RTCConfiguration => ({ iceServers: [{ urls }], iceTransportPolicy: 'all', bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });

describe('ConnectionPreparer', () => {
  let made: FakePeerConnection[];
  let preparer: ConnectionPreparer;
  beforeEach(() => {
    vi.useFakeTimers();
    made = [];
    preparer = new ConnectionPreparer((c) => {
      const pc = new FakePeerConnection(c);
      made.push(pc);
      return pc as unknown as RTCPeerConnection;
    });
  });
  afterEach(() => vi.useRealTimers());

  it('hands out a connection whose channel is the link’s and whose offer is set, then prepares the next after the link has set up', async () => {
    preparer.prepare(config('stun:a'));
    expect(preparer.take(config('stun:a'))).toBeUndefined(); // not made yet: the link makes its own…
    await vi.advanceTimersByTimeAsync(SETTLE_MS - 1);
    expect(made).toHaveLength(0); // …and this one waits until that link has set up
    await vi.advanceTimersByTimeAsync(1);
    expect(made).toHaveLength(1);
    expect(made[0]!.channels).toEqual([{ label: 'workstream-v1', init: { negotiated: true, id: 0, ordered: true, protocol: 'workstream-v1' } }]);
    const taken = preparer.take(config('stun:a'));
    expect(taken?.pc).toBe(made[0]);
    expect(made[0]!.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(SETTLE_MS - 1);
    expect(made).toHaveLength(1); // not while that link sets up
    await vi.advanceTimersByTimeAsync(1);
    expect(made).toHaveLength(2);
  });

  it('while links keep being set up (consoles joining together), the next connection waits until they stop', async () => {
    preparer.prepareBare(config('stun:a'));
    preparer.prepare(config('stun:a'));
    await vi.advanceTimersByTimeAsync(0);
    expect(preparer.take(config('stun:a'))?.pc).toBe(made[1]);
    // A link every 200 ms, offering or answering: neither connection is made among them.
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(200);
      if (i % 2) preparer.take(config('stun:a'));
      else preparer.takeBare(config('stun:a'));
    }
    expect(made).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(SETTLE_MS);
    expect(made).toHaveLength(4); // the offering one and the bare one, once they stopped
    expect(made[2]!.channels).toHaveLength(1);
    expect(made[3]!.channels).toHaveLength(0);
  });

  it('never hands out a connection made for other ICE servers: it is closed and replaced', async () => {
    preparer.prepare(config('stun:a'));
    await vi.advanceTimersByTimeAsync(0);
    expect(preparer.take(config('turn:b'))).toBeUndefined();
    expect(made[0]!.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(SETTLE_MS);
    expect(made[1]!.configuration.iceServers).toEqual([{ urls: 'turn:b' }]);
    expect(preparer.take(config('turn:b'))?.pc).toBe(made[1]);
  });

  it('replaces a prepared connection after two minutes (its candidates may be stale), and discard closes it and prepares none', async () => {
    preparer.prepare(config('stun:a'));
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(2 * 60_000 + 1); // a 0 ms timer waits 1 ms, as in Node
    expect(made[0]!.closed).toBe(true);
    expect(made).toHaveLength(2);
    preparer.discard();
    expect(made[1]!.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(made).toHaveLength(2);
    expect(preparer.take(config('stun:a'))).toBeUndefined();
  });

  it('a connection that cannot be made or set is not handed out', async () => {
    const failing = new ConnectionPreparer(() => {
      throw new Error('no WebRTC');
    });
    failing.prepare(config('stun:a'));
    await vi.advanceTimersByTimeAsync(0);
    expect(failing.take(config('stun:a'))).toBeUndefined();
    failing.discard();
  });

  it('a bare connection is made at once, handed out with the link’s ICE servers, and the next made after that link set up', async () => {
    preparer.prepareBare(config('stun:none-yet'));
    expect(made).toHaveLength(1);
    expect(made[0]!.channels).toEqual([]); // no channel: the waiting side makes it when the offer comes
    expect(made[0]!.signalingState).toBe('stable'); // no description: nothing gathered, nothing to go stale
    const bare = preparer.takeBare(config('turn:registry'));
    expect(bare).toBe(made[0]);
    expect(made[0]!.configuration.iceServers).toEqual([{ urls: 'turn:registry' }]);
    expect(preparer.takeBare(config('turn:registry'))).toBeUndefined();
    await vi.advanceTimersByTimeAsync(SETTLE_MS);
    expect(made).toHaveLength(2);
    preparer.close();
    expect(made[1]!.closed).toBe(true);
    expect(made[0]!.closed).toBe(false); // taken: the link's now
  });

  it('a bare connection made with the link’s ICE servers is handed out without setConfiguration', () => {
    preparer.prepareBare(config('turn:registry'));
    made[0]!.rejectConfiguration = true; // would refuse, were it asked
    expect(preparer.takeBare(config('turn:registry'))).toBe(made[0]);
    expect(made[0]!.closed).toBe(false);
    preparer.close();
  });

  it('a bare connection that refuses the configuration is closed, not handed out', () => {
    preparer.prepareBare(config('stun:a'));
    made[0]!.rejectConfiguration = true;
    expect(preparer.takeBare(config('turn:b'))).toBeUndefined();
    expect(made[0]!.closed).toBe(true);
    preparer.close();
  });
});
