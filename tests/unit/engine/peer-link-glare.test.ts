/**
 * Glare in a burst (docs/BENCHMARKS.md, the burst's "one never did"): the member offers first (it
 * saw the newcomer join) but its offer is slow on the way, the newcomer's `offerWaitMs` runs out and
 * it offers too. Each ordering the registry (FIFO each way) and the timers allow must end with both
 * ends' connections paired and ICE running, no error, and no loop of offers: the polite side yields,
 * the impolite one ignores and, if its offer went unanswered for over a second, sends it again.
 * Two real PeerLinks, a manual clock and spec-like connections (glare-harness.ts); the whole link
 * runs in Chromium in tests/browser/links.spec.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { wiredPair } from './glare-harness';
import { NegotiatingConnection } from './negotiating-connection';

const pairs: Array<Awaited<ReturnType<typeof wiredPair>>> = [];
afterEach(() => {
  NegotiatingConnection.latency = () => 0;
  pairs.splice(0).forEach((pair) => pair.close());
});

/**
 * The burst's start: the newcomer's wait begins `memberLateMs` before the member makes its offer;
 * the member's offer (and candidates) are held on the way until the newcomer has offered.
 */
async function burst(memberPolite: boolean, memberLateMs: number) {
  const pair = await wiredPair(memberPolite);
  pairs.push(pair);
  pair.n.link.start();
  await pair.advance(memberLateMs);
  pair.m.link.start();
  await pair.advance(0); // its offer is made
  await pair.advance(1500 - memberLateMs); // the newcomer's wait runs out: it offers
  expect(pair.pending(pair.n)).toEqual(['offer', 'candidate', 'end-of-candidates']);
  expect(pair.pending(pair.m)).toEqual(['offer', 'candidate', 'end-of-candidates']);
  return pair;
}

/** Lets the rest through, with time for the timers (short of the 10 s relay fallback), and checks the outcome. */
async function expectLinked(pair: Awaited<ReturnType<typeof wiredPair>>, connections = [1, 1], impoliteOffers = 2) {
  for (let i = 0; i < 4; i++) {
    await pair.drain();
    await pair.advance(1000);
  }
  await pair.drain();
  expect(pair.linked(), pair.report()).toBe(true);
  expect([...pair.m.errors, ...pair.n.errors], pair.report()).toEqual([]);
  expect([pair.m.connections.length, pair.n.connections.length], pair.report()).toEqual(connections);
  for (const side of [pair.m, pair.n]) expect(side.link.snapshot().rejectedSignals).toBe(0);
  // no loop: the impolite side's offer at most twice (sent and resent, per connection), the polite side's once
  const offers = (side: typeof pair.m) => side.sent.filter((type) => type === 'webrtc_offer').length;
  const impolite = pair.m.link.polite ? pair.n : pair.m;
  const polite = pair.m.link.polite ? pair.m : pair.n;
  expect(offers(impolite), pair.report()).toBeLessThanOrEqual(impoliteOffers);
  expect(offers(polite), pair.report()).toBe(1);
}

describe('PeerLink glare in a burst: the member impolite (the smaller peer id)', () => {
  it('the newcomer’s offer meets the member’s over a second old: resent at once; the original reaches the newcomer first, the resent one after its answer', async () => {
    const pair = await burst(false, 0);
    await pair.deliver(pair.n); // the newcomer's offer: ignored (impolite), ours is 1.5 s old → resent now
    expect(pair.m.sent.filter((t) => t === 'webrtc_offer')).toHaveLength(2);
    await pair.deliver(pair.m); // the original offer: the newcomer rolls back and answers
    await pair.deliver(pair.m);
    await pair.deliver(pair.m);
    await pair.deliver(pair.n); // its candidate, from the offer it rolled back (same ICE credentials)
    await pair.deliver(pair.n);
    await pair.deliver(pair.n); // the answer
    await pair.deliver(pair.m); // the resent offer, after the answer: answered again, that answer stale
    await expectLinked(pair);
    expect(pair.n.sent.filter((t) => t === 'webrtc_answer')).toHaveLength(2);
    const events = pair.m.link.snapshot().history.map((h) => h.event);
    expect(events).toContain('glare');
    expect(events).toContain('offer-resent');
  });

  it('the resent offer reaches the newcomer while its answer to the original is on the way', async () => {
    const pair = await burst(false, 0);
    await pair.deliver(pair.n);
    await pair.deliver(pair.m); // original offer → answered
    await pair.deliver(pair.m);
    await pair.deliver(pair.m);
    await pair.deliver(pair.m); // the resent offer, before the member has the answer
    await expectLinked(pair);
  });

  it('the member’s original offer (and its candidates) lost on the way: the resent one alone, met with the newcomer’s own offer still pending', async () => {
    const pair = await burst(false, 0);
    pair.lose(pair.m);
    await pair.deliver(pair.n); // resent at once
    expect(pair.pending(pair.m)).toEqual(['offer']);
    await expectLinked(pair);
  });

  it('the newcomer’s candidates reach the member before its answer: kept, then applied', async () => {
    const pair = await burst(false, 0);
    await pair.deliver(pair.n); // offer (ignored)
    await pair.deliver(pair.n); // candidate: no remote description yet
    await pair.deliver(pair.n);
    await pair.drain();
    await expectLinked(pair);
  });

  it('the newcomer’s offer meets the member’s under a second old: answered before the resend timer, nothing resent', async () => {
    const pair = await burst(false, 1200); // the member offered 300 ms before the newcomer did
    await pair.deliver(pair.n);
    await pair.drain(); // the original offer, the answer
    await expectLinked(pair);
    expect(pair.m.sent.filter((t) => t === 'webrtc_offer')).toHaveLength(1);
  });

  it('the newcomer’s offer meets the member’s under a second old, and the answer comes after the resend timer', async () => {
    const pair = await burst(false, 1200);
    await pair.deliver(pair.n); // ignored: resend in 700 ms
    await pair.advance(800); // resent, original still on the way
    expect(pair.m.sent.filter((t) => t === 'webrtc_offer')).toHaveLength(2);
    await expectLinked(pair);
  });

  it('the member replaces its connection meanwhile (its registry connection came back): the newcomer, having answered the old one, follows to the new one', async () => {
    const pair = await burst(false, 0);
    await pair.deliver(pair.n); // ignored, resent from the first connection
    pair.m.link.signalingRestored(); // impolite and not up: a new connection, a new offer (a new connection id)
    await pair.advance(0);
    await pair.deliver(pair.m); // the first connection's offer: answered (that answer is for a closed connection)
    await expectLinked(pair, [2, 2], 3);
    expect(pair.m.link.snapshot().history.map((h) => h.event)).toContain('connection');
  });

  it('the member’s offer reaches the newcomer while the newcomer’s own is still being made (a starved renderer)', async () => {
    const pair = await wiredPair(false);
    pairs.push(pair);
    NegotiatingConnection.latency = () => 30;
    pair.m.link.start();
    await new Promise((done) => setTimeout(done, 100));
    pair.n.link.start();
    await pair.advance(1500, false); // the newcomer's wait runs out: its offer is being set
    await pair.deliver(pair.m, false); // meanwhile the member's offer arrives (a collision: makingOffer)
    await new Promise((done) => setTimeout(done, 200));
    await expectLinked(pair);
  });
});

describe('PeerLink glare in a burst: the member polite (the greater peer id)', () => {
  it('the member yields to the newcomer’s offer; the newcomer ignores the member’s, then has its answer', async () => {
    const pair = await burst(true, 0);
    await pair.deliver(pair.n); // the member rolls back and answers
    await pair.deliver(pair.m); // the member's offer at the newcomer: ignored (impolite), its own 1.5 s old → resent
    await expectLinked(pair);
  });

  it('the member’s offer reaches the newcomer before the newcomer’s reaches the member', async () => {
    const pair = await burst(true, 1200);
    await pair.deliver(pair.m); // ignored by the newcomer (impolite), its own under a second old
    await pair.deliver(pair.m);
    await pair.deliver(pair.m);
    await pair.deliver(pair.n); // the member yields and answers
    await expectLinked(pair);
  });
});

/** A small deterministic generator, so that a failing schedule can be run again by its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

describe('PeerLink glare in a burst: other orderings (fixed seeds)', () => {
  // Deliveries each way, timer steps and slow connection operations interleaved at random from the
  // burst's start (the newcomer's wait begun up to 1.4 s before the member's offer, the member's
  // messages held until the newcomer offered); the original offer and candidates lost in some.
  for (const memberPolite of [false, true]) {
    it(`link up in every one (member ${memberPolite ? 'polite' : 'impolite'})`, async () => {
      const failures: string[] = [];
      for (let seed = 1; seed <= 16; seed++) {
        const next = random(seed * (memberPolite ? 7 : 13));
        NegotiatingConnection.latency = () => 0;
        const pair = await burst(memberPolite, Math.floor(next() * 15) * 100);
        NegotiatingConnection.latency = () => (next() < 0.5 ? 0 : Math.floor(next() * 20));
        if (seed % 4 === 0) pair.lose(pair.m);
        let elapsed = 1500;
        for (let step = 0; step < 24; step++) {
          const r = next();
          if (r < 0.3) await pair.deliver(pair.m, next() < 0.7);
          else if (r < 0.6) await pair.deliver(pair.n, next() < 0.7);
          else if (r < 0.65) await new Promise((done) => setTimeout(done, 5));
          else if (elapsed < 6000) {
            const ms = [100, 300, 600][Math.floor(next() * 3)]!;
            elapsed += ms;
            await pair.advance(ms, next() < 0.7);
          }
        }
        try {
          await expectLinked(pair);
        } catch (error) {
          failures.push(`seed ${seed}: ${(error as Error).message}`);
        }
        pair.close();
      }
      expect(failures.join('\n\n')).toBe('');
    }, 60_000);
  }
});
