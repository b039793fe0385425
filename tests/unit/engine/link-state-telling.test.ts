/** When a console tells a peer its link states (link-state-telling.ts): on a change, a new link, or every 30 s. */
import { describe, expect, it } from 'vitest';
import { LINK_STATES_REFRESH_MS, LinkStateTeller } from '../../../src-renderer/engine/link-state-telling';
import type { SharedLinkState } from '../../../src-renderer/engine/console';

const A = 'a'.repeat(26);
const B = 'b'.repeat(26);
const states = (over: Partial<SharedLinkState> = {}): SharedLinkState[] => [{ peerId: A, state: 'direct', path: 'host', rttMs: 10, ...over }];

describe('LinkStateTeller', () => {
  it('tells each peer once, then only when something changed, and again every 30 s when nothing did', () => {
    const teller = new LinkStateTeller();
    let now = 0;
    expect(teller.due(B, states(), now)).toBe(true);
    // An idle minute of 2 s rounds: told twice more (the refreshes), not 30 times.
    let told = 0;
    for (let round = 0; round < 30; round++) if (teller.due(B, states(), (now += 2000))) told++;
    expect(told).toBe(2);
    // A state, a path or an error that changes is told at the next round.
    expect(teller.due(B, states({ state: 'relay', path: 'registry-relay' }), (now += 2000))).toBe(true);
    expect(teller.due(B, states({ state: 'relay', path: 'registry-relay', error: 'RELAY_OVER_BUDGET' }), (now += 2000))).toBe(true);
    expect(teller.due(B, states({ state: 'relay', path: 'registry-relay', error: 'RELAY_OVER_BUDGET' }), (now += 2000))).toBe(false);
    // Each peer is counted on its own.
    expect(teller.due(A, states(), now)).toBe(true);
  });

  it('is not moved by RTT jitter, but is by a real change of RTT; the refresh carries the exact figure', () => {
    const teller = new LinkStateTeller();
    let now = 0;
    teller.due(B, states({ rttMs: 10 }), now);
    expect(teller.due(B, states({ rttMs: 11 }), (now += 2000))).toBe(false);
    expect(teller.due(B, states({ rttMs: 9 }), (now += 2000))).toBe(false);
    expect(teller.due(B, states({ rttMs: 40 }), (now += 2000))).toBe(true); // e.g. moved to TURN
    expect(teller.due(B, states({ rttMs: 41 }), (now += LINK_STATES_REFRESH_MS))).toBe(true); // the refresh
  });

  it('tells a peer afresh when its link is made again, and a link that appears or goes is a change', () => {
    const teller = new LinkStateTeller();
    teller.due(B, states(), 0);
    expect(teller.due(B, states(), 2000)).toBe(false);
    teller.forget(B);
    expect(teller.due(B, states(), 4000)).toBe(true);
    expect(teller.due(B, [...states(), { peerId: 'c'.repeat(26), state: 'direct' }], 6000)).toBe(true);
    expect(teller.due(B, states(), 8000)).toBe(true);
  });
});
