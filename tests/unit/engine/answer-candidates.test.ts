/**
 * The answer carries the answerer's first candidate in its SDP (negotiation.ts, sendAnswer): the
 * offerer then knows where to reach it when it applies the answer, instead of from a trickled
 * candidate that arrives while its handshakes run (docs/BENCHMARKS.md, cold setup). The wait for
 * that candidate is bounded: an answer whose connection gathers nothing still goes. Two real
 * PeerLinks over a wire delivered by hand, on a manual clock (glare-harness.ts); the whole link
 * runs in Chromium in tests/browser/links.spec.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ANSWER_CANDIDATE_WAIT_MS } from '../../../src-renderer/engine/link/negotiation';
import { decodeEnvelope, decodeLinkSignal } from '../../../src-renderer/engine/link/signal-codec';
import { wiredPair, type Wired } from './glare-harness';

const pairs: Array<Awaited<ReturnType<typeof wiredPair>>> = [];
afterEach(() => pairs.splice(0).forEach((pair) => pair.close()));

/** The member offers (its candidate and end-of-candidates follow); the newcomer waits for the offer. */
async function offered() {
  const pair = await wiredPair(false);
  pairs.push(pair);
  pair.n.link.start();
  pair.m.link.start();
  await pair.advance(0);
  expect(pair.pending(pair.m)).toEqual(['offer', 'candidate', 'end-of-candidates']);
  return pair;
}

/** The SDP of the answer `side` has yet to deliver. */
function answerSdp(side: Wired): string {
  for (const { payload } of side.outbox) {
    const envelope = decodeEnvelope(payload);
    if ('error' in envelope) throw new Error(envelope.error);
    const signal = decodeLinkSignal(envelope.body);
    if ('error' in signal) throw new Error(signal.error);
    if (signal.description?.type === 'answer') return signal.description.sdp;
  }
  throw new Error('no answer sent');
}

describe('PeerLink answer: the answerer’s first candidate in its SDP', () => {
  it('sends the answer with the candidate gathered after it was set, and does not trickle that candidate again', async () => {
    const pair = await offered();
    await pair.deliver(pair.m); // the offer: the newcomer answers, once its first candidate is gathered
    expect(answerSdp(pair.n)).toMatch(/^a=candidate:1 1 udp 1 127\.0\.0\.1 5000 typ host generation 0\r?$/m);
    expect(pair.pending(pair.n)).toEqual(['answer', 'end-of-candidates']);
    await pair.drain();
    expect(pair.linked(), pair.report()).toBe(true);
    expect([...pair.m.errors, ...pair.n.errors]).toEqual([]);
  });

  it('sends the answer at the cap when gathering gives no candidate, and the candidates that come later trickle', async () => {
    const pair = await offered();
    // The newcomer's connection is gathering, slowly: no candidate comes while the answer waits.
    const pc = pair.n.connections[0]!;
    pc.iceGatheringState = 'gathering';
    await pair.deliver(pair.m);
    expect(pair.pending(pair.n)).toEqual([]); // waiting for its first candidate
    await pair.advance(ANSWER_CANDIDATE_WAIT_MS);
    expect(pair.pending(pair.n)).toEqual(['answer']);
    expect(answerSdp(pair.n)).not.toContain('a=candidate:');
    // A candidate found later (a slow network) trickles as usual.
    pc.onicecandidate?.({ candidate: { candidate: 'candidate:2 1 udp 1 192.0.2.1 6000 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: pc.ufrag } });
    pc.onicecandidate?.({ candidate: null });
    await pair.advance(0);
    expect(pair.pending(pair.n)).toEqual(['answer', 'candidate', 'end-of-candidates']);
    await pair.drain();
    expect(pair.linked(), pair.report()).toBe(true);
    expect([...pair.m.errors, ...pair.n.errors]).toEqual([]);
  });
});
