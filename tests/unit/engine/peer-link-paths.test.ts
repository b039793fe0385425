/**
 * A PeerLink on a manual clock (PeerLinkOptions.clock) over a stub connection that never finds a
 * direct path: the path policy's timings as the link carries them out. The decisions alone are
 * in path-policy.test.ts; the same in Chromium in tests/browser/links.spec.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LINK_CONFIG, PeerLink } from '../../../src-renderer/engine/link/peer-link';
import { ManualClock } from './manual-clock';
import { StubConnection } from './stub-connection';
import { linkBetween, twoParties } from './test-link';

const links: PeerLink[] = [];
afterEach(() => links.splice(0).forEach((link) => link.close()));

async function relayableLink() {
  const [ada, bob] = await twoParties();
  const clock = new ManualClock();
  const connections: StubConnection[] = [];
  const relayed: Uint8Array[] = [];
  const link = new PeerLink({
    ...linkBetween(ada, bob),
    remoteCertificate: bob.session.certificate, // known from presence: the relay can seal for it
    port: { sendSignal: () => true, sendRelay: (payload) => (relayed.push(payload), true), relayWritable: () => true, relayMaxFrameBytes: () => 256 * 1024 },
    createPeerConnection: () => {
      const pc = new StubConnection();
      connections.push(pc);
      return pc as unknown as RTCPeerConnection;
    },
    offersFirst: true,
    clock,
  });
  links.push(link);
  const states: string[] = [];
  link.on('change', ({ state }) => states.at(-1) !== state && states.push(state));
  return { link, clock, connections, relayed, states };
}

describe('a PeerLink’s paths on its injected clock', () => {
  it('relays 10 s after negotiation started when ICE is still checking, not a millisecond before, and sends what waited', async () => {
    const { link, clock, connections, relayed, states } = await relayableLink();
    link.start();
    const pc = connections[0]!;
    pc.iceConnectionState = 'checking';
    pc.oniceconnectionstatechange?.();
    const sending = link.send({ t: 'hello' }); // queued: no path yet
    clock.advance(DEFAULT_LINK_CONFIG.fallbackAfterMs - 1);
    expect(link.state).toBe('checking');
    expect(relayed).toEqual([]);
    clock.advance(1);
    expect(link.state).toBe('relay');
    await sending;
    expect(relayed.length).toBeGreaterThan(0);
    expect(states).toEqual(['signaling', 'checking', 'relay']);
    expect(link.snapshot().relayFallbacks).toBe(1);
  });

  it('the impolite side makes a new connection when the first retry is due, while the link relays on', async () => {
    const { link, clock, connections } = await relayableLink();
    link.start();
    clock.advance(DEFAULT_LINK_CONFIG.fallbackAfterMs);
    expect(link.state).toBe('relay');
    expect(connections).toHaveLength(1);
    clock.advance(DEFAULT_LINK_CONFIG.directRetry.baseMs);
    if (link.polite) expect(connections).toHaveLength(1); // the other side makes it, this one answers
    else expect(connections).toHaveLength(2);
    expect(link.state).toBe('relay');
  });

  it('a connection closed by the platform itself (node-datachannel, after an answer it could not apply) is as good as failed: relay at once, a new connection when the retry is due', async () => {
    const { link, clock, connections } = await relayableLink();
    link.start();
    clock.advance(1_000);
    const pc = connections[0]!;
    pc.connectionState = 'closed';
    pc.onconnectionstatechange?.();
    expect(link.state).toBe('relay');
    expect(link.snapshot().history.some((h) => h.event === 'relay' && h.detail.includes('closed by itself'))).toBe(true);
    clock.advance(DEFAULT_LINK_CONFIG.directRetry.baseMs);
    if (link.polite) expect(connections).toHaveLength(1); // the other side makes it, this one answers
    else expect(connections).toHaveLength(2);
  });

  it('ICE failing on the connection relays at once, without waiting for the fallback', async () => {
    const { link, clock, connections } = await relayableLink();
    link.start();
    clock.advance(1_000);
    const pc = connections[0]!;
    pc.iceConnectionState = 'failed';
    pc.oniceconnectionstatechange?.();
    expect(link.state).toBe('relay');
    expect(link.snapshot().history.some((h) => h.event === 'relay' && h.detail.includes('ICE failed'))).toBe(true);
  });
});

/** A pre-negotiated DataChannel of a stub connection; `openChannels` pairs two and opens them. */
class FakeChannel {
  /** Messages this channel sent. */
  sent = 0;
  binaryType = 'arraybuffer';
  readyState: RTCDataChannelState = 'connecting';
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  peer: FakeChannel | undefined;
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onmessage: ((event: { data: ArrayBuffer }) => void) | null = null;
  onbufferedamountlow: (() => void) | null = null;
  send(data: Uint8Array): void {
    this.sent++;
    const copy = data.slice().buffer;
    const peer = this.peer!;
    setTimeout(() => peer.onmessage?.({ data: copy }), 0);
  }
  close(): void {}
}

class ChannelConnection extends StubConnection {
  channel: FakeChannel | undefined;
  override createDataChannel() {
    this.channel = new FakeChannel();
    return this.channel as unknown as ReturnType<StubConnection['createDataChannel']>;
  }
}

/** Two links relaying to each other through a registry in memory, each on its manual clock. */
async function relayedPair() {
  const [ada, bob] = await twoParties();
  const clock = new ManualClock();
  const ends: Array<{ link: PeerLink; connections: ChannelConnection[]; received: number[]; relayed: number }> = [];
  for (const [me, peer] of [
    [ada, bob],
    [bob, ada],
  ] as const) {
    const connections: ChannelConnection[] = [];
    const index = ends.length;
    const link = new PeerLink({
      ...linkBetween(me, peer),
      remoteCertificate: peer.session.certificate,
      port: {
        sendSignal: () => true,
        sendRelay: (payload) => {
          ends[index]!.relayed++;
          const other = ends[1 - index]!.link;
          setTimeout(() => other.handleRelay(payload), 0); // the registry, asynchronously
          return true;
        },
        relayWritable: () => true,
        relayMaxFrameBytes: () => 256 * 1024,
      },
      createPeerConnection: () => {
        const pc = new ChannelConnection();
        connections.push(pc);
        return pc as unknown as RTCPeerConnection;
      },
      offersFirst: index === 0,
      clock,
    });
    links.push(link);
    const received: number[] = [];
    link.on('message', (m) => received.push((m as { n: number }).n));
    ends.push({ link, connections, received, relayed: 0 });
  }
  for (const end of ends) end.link.start();
  clock.advance(DEFAULT_LINK_CONFIG.fallbackAfterMs);
  return { ends: ends as [(typeof ends)[0], (typeof ends)[0]], clock };
}

/** Pairs the two ends' first connections' channels and opens them: a DataChannel comes up. */
function openChannels(ends: Awaited<ReturnType<typeof relayedPair>>['ends']): [FakeChannel, FakeChannel] {
  const [a, b] = [ends[0].connections[0]!.channel!, ends[1].connections[0]!.channel!];
  a.peer = b;
  b.peer = a;
  for (const channel of [a, b]) {
    channel.readyState = 'open';
    channel.onopen?.();
  }
  return [a, b];
}

describe('back to direct', () => {
  it('a DataChannel opening mid-stream takes over from the relay: every message arrives once, in order', async () => {
    const { ends, clock } = await relayedPair();
    const [ada, bob] = ends;
    expect([ada.link.state, bob.link.state]).toEqual(['relay', 'relay']);
    const N = 200;
    const sending = (async () => {
      for (let n = 1; n <= N; n++) {
        await ada.link.send({ n });
        if (n % 20 === 0) await new Promise((done) => setTimeout(done, 1)); // let the relay carry some
      }
    })();
    await expect.poll(() => bob.received.length, { interval: 1 }).toBeGreaterThan(10);
    expect(bob.received.length).toBeLessThan(N); // the move happens mid-stream
    // The first connections' channels (the waiting side made its own when its wait was over) open, paired.
    openChannels(ends);
    expect([ada.link.state, bob.link.state]).toEqual(['direct', 'direct']);
    await sending;
    await expect.poll(() => bob.received.length).toBe(N);
    expect(bob.received).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // Back to direct for good: no more retries while it holds.
    const connections = ada.connections.length;
    clock.advance(10 * DEFAULT_LINK_CONFIG.directRetry.maxMs);
    expect(ada.connections).toHaveLength(connections);
    expect(ada.link.snapshot().history.filter((h) => h.event === 'datachannel-open')).toHaveLength(1);
  });
});

describe('an idle link', () => {
  /** Lets the in-memory registry and channels deliver what is in flight (they deliver on real timers). */
  const settle = () => new Promise((done) => setTimeout(done, 20));

  it('pings over the relay (its RTT), sends nothing of its own while a DataChannel carries it, and pings again when it is back on the relay', async () => {
    const { ends, clock } = await relayedPair();
    const [ada, bob] = ends;
    await settle();
    // On the relay: a ping and its echo, every 2 s; the echo is the link's RTT.
    const relayedBefore = ada.relayed;
    clock.advance(2_000);
    await settle();
    expect(ada.relayed).toBeGreaterThan(relayedBefore);
    expect(ada.link.snapshot().rttMs).toBeDefined();
    // A DataChannel takes over (the stats reader finds no pair on a stub: the path stays as it was read).
    const [a, b] = openChannels(ends);
    expect([ada.link.state, bob.link.state]).toEqual(['direct', 'direct']);
    clock.advance(2_000); // a ping armed on the relay comes due once more, and finds the channel
    await settle();
    const [sentA, sentB, relayedA] = [a.sent, b.sent, ada.relayed];
    // A minute idle: ICE checks the path and measures its RTT; the link itself sends nothing.
    for (let s = 0; s < 60; s++) {
      clock.advance(1_000);
      await settle();
    }
    expect([a.sent, b.sent, ada.relayed]).toEqual([sentA, sentB, relayedA]);
    // The channel goes: back on the relay, and pinging again.
    a.readyState = 'closed';
    a.onclose?.();
    expect(ada.link.state).toBe('relay');
    await settle();
    const relayedOnReturn = ada.relayed;
    clock.advance(2_000);
    await settle();
    expect(ada.relayed).toBeGreaterThan(relayedOnReturn);
  }, 20_000);
});
