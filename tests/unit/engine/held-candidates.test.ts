/**
 * A connection holds back its host TCP candidates and its end-of-candidates (negotiation.ts): they
 * reach the peer only if ICE has not connected `holdCandidatesMs` after them. UDP candidates go at
 * once, as before.
 */
import { describe, expect, it } from 'vitest';
import { Negotiation, type NegotiationHost, type SignalBody } from '../../../src-renderer/engine/link/negotiation';
import { ManualClock } from './manual-clock';

const udp = 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0 ufrag abcd';
const tcp = 'candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0 ufrag abcd';
const relayOverTcp = 'candidate:3 1 udp 41885439 192.0.2.1 3478 typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag abcd';

function connection(holdCandidatesMs = 1000) {
  const clock = new ManualClock();
  const sent: Array<string | null> = [];
  const history: string[] = [];
  const pc = { iceConnectionState: 'new', close: () => undefined } as unknown as RTCPeerConnection & { iceConnectionState: RTCIceConnectionState };
  const host: NegotiationHost = {
    polite: false,
    config: () => ({ blockDirect: false, offerWaitMs: 60_000, holdCandidatesMs }),
    signal: (_from, _type, body: SignalBody) => void sent.push(body.candidate ? body.candidate.candidate : null),
    record: (event, detail) => void history.push(`${event}: ${detail}`),
    fail: () => undefined,
    channelOpened: () => undefined,
    channelClosed: () => undefined,
    channelMessage: () => undefined,
    bufferedAmountLow: () => undefined,
    iceStateChanged: () => undefined,
    connectionStateChanged: () => undefined,
  };
  new Negotiation(pc, host, clock, { offerNow: false });
  const gathered = (candidate: string | null) =>
    pc.onicecandidate!({ candidate: candidate === null ? null : ({ candidate, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'abcd' } as RTCIceCandidate) } as RTCPeerConnectionIceEvent);
  return { pc, clock, sent, history, gathered };
}

describe('candidates held back until ICE has had a second', () => {
  it('sends UDP (and relay) candidates at once, and never the held ones once ICE has connected', () => {
    const c = connection();
    c.gathered(udp);
    c.gathered(tcp);
    c.gathered(relayOverTcp);
    c.gathered(null);
    expect(c.sent).toEqual([udp, relayOverTcp]);
    c.pc.iceConnectionState = 'connected';
    c.clock.advance(5_000);
    expect(c.sent).toEqual([udp, relayOverTcp]);
    expect(c.history.filter((h) => h.startsWith('candidates-released'))).toEqual([]);
  });

  it('sends the held ones, in order, when ICE has not connected a second after the first of them', () => {
    const c = connection();
    c.gathered(udp);
    c.gathered(tcp);
    c.clock.advance(400);
    c.gathered(null);
    c.pc.iceConnectionState = 'checking';
    c.clock.advance(599);
    expect(c.sent).toEqual([udp]);
    c.clock.advance(1);
    expect(c.sent).toEqual([udp, tcp, null]);
    expect(c.history).toContainEqual(expect.stringMatching(/^candidates-released: ICE checking after 1000 ms: sending 2 held back/));
  });

  it('holds each later batch again (an ICE restart gathers its own)', () => {
    const c = connection();
    c.gathered(null);
    c.pc.iceConnectionState = 'connected';
    c.clock.advance(1000); // connected: dropped
    c.pc.iceConnectionState = 'checking'; // restarted
    c.gathered(tcp);
    c.clock.advance(999);
    expect(c.sent).toEqual([]);
    c.clock.advance(1);
    expect(c.sent).toEqual([tcp]);
  });

  it('holdCandidatesMs 0 trickles every candidate at once', () => {
    const c = connection(0);
    c.gathered(udp);
    c.gathered(tcp);
    c.gathered(null);
    expect(c.sent).toEqual([udp, tcp, null]);
  });
});
