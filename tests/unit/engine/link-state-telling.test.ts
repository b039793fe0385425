/**
 * What a console tells a peer about its links, and when (link-state-telling.ts): to a peer that
 * takes changes, the whole list once per link and then only what changed; to an older console,
 * the whole list on a change and every 30 s.
 */
import { describe, expect, it } from 'vitest';
import { LINK_STATES_REFRESH_MS, LinkStateTeller, MAX_SHARED_LINKS, applyLinkStateChanges, type LinkStatesMessage } from '../../../src-renderer/engine/link-state-telling';
import type { SharedLinkState } from '../../../src-renderer/engine/console';
import { seededRandom } from '../../support/seeded-random';

const A = 'a'.repeat(26);
const B = 'b'.repeat(26);
const C = 'c'.repeat(26);
const states = (over: Partial<SharedLinkState> = {}): SharedLinkState[] => [{ peerId: A, state: 'direct', path: 'host', rttMs: 10, ...over }];
const peer = (i: number): SharedLinkState => ({ peerId: `p${i}-`.padEnd(26, '0'), state: 'direct', path: 'host', rttMs: 20 });

/** A teller whose peer B said it takes changes. */
function changesTeller(): LinkStateTeller {
  const teller = new LinkStateTeller();
  teller.heard(B, true);
  return teller;
}

describe('LinkStateTeller, to a console from before changes', () => {
  it('tells each peer once, then only when something changed, and again every 30 s when nothing did', () => {
    const teller = new LinkStateTeller();
    let now = 0;
    expect(teller.message(B, states(), now)).toEqual({ t: 'link-states', links: states(), changes: true });
    // An idle minute of 2 s rounds: told twice more (the refreshes), not 30 times.
    let told = 0;
    for (let round = 0; round < 30; round++) if (teller.message(B, states(), (now += 2000))) told++;
    expect(told).toBe(2);
    // A state, a path or an error that changes is told at the next round, as the whole list.
    expect(teller.message(B, states({ state: 'relay', path: 'registry-relay' }), (now += 2000))?.t).toBe('link-states');
    expect(teller.message(B, states({ state: 'relay', path: 'registry-relay', error: 'RELAY_OVER_BUDGET' }), (now += 2000))?.t).toBe('link-states');
    expect(teller.message(B, states({ state: 'relay', path: 'registry-relay', error: 'RELAY_OVER_BUDGET' }), (now += 2000))).toBeUndefined();
    // Each peer is counted on its own.
    expect(teller.message(A, states(), now)).toBeDefined();
  });

  it('is not moved by RTT jitter, but is by a real change of RTT; the refresh carries the exact figure', () => {
    const teller = new LinkStateTeller();
    let now = 0;
    teller.message(B, states({ rttMs: 10 }), now);
    expect(teller.message(B, states({ rttMs: 11 }), (now += 2000))).toBeUndefined();
    expect(teller.message(B, states({ rttMs: 9 }), (now += 2000))).toBeUndefined();
    expect(teller.message(B, states({ rttMs: 40 }), (now += 2000))).toBeDefined(); // e.g. moved to TURN
    expect(teller.message(B, states({ rttMs: 41 }), (now += LINK_STATES_REFRESH_MS))).toEqual({ t: 'link-states', links: states({ rttMs: 41 }), changes: true });
  });

  it('tells a peer afresh when its link is made again, and a link that appears or goes is a change', () => {
    const teller = new LinkStateTeller();
    teller.message(B, states(), 0);
    expect(teller.message(B, states(), 2000)).toBeUndefined();
    teller.forget(B);
    expect(teller.message(B, states(), 4000)).toBeDefined();
    expect(teller.message(B, [...states(), { peerId: C, state: 'direct' }], 6000)).toBeDefined();
    expect(teller.message(B, states(), 8000)).toBeDefined();
  });

  it('goes back to whole lists for a peer that no longer says it takes changes', () => {
    const teller = changesTeller();
    teller.message(B, states(), 0);
    teller.heard(B, false);
    expect(teller.message(B, states({ state: 'relay' }), 2000)?.t).toBe('link-states');
  });
});

describe('LinkStateTeller, to a peer that takes changes', () => {
  it('tells the whole list first, then only the links that changed or went, and nothing while nothing does (no refresh)', () => {
    const teller = changesTeller();
    const three = [peer(1), peer(2), peer(3)];
    expect(teller.message(B, three, 0)).toEqual({ t: 'link-states', links: three, changes: true });
    let now = 0;
    for (let round = 0; round < 60; round++) expect(teller.message(B, three, (now += 2000))).toBeUndefined();
    const moved = { ...peer(2), state: 'relay', path: 'registry-relay' };
    expect(teller.message(B, [peer(1), moved, peer(3), peer(4)], (now += 2000))).toEqual({ t: 'link-states-changed', links: [moved, peer(4)], gone: [] });
    expect(teller.message(B, [peer(1), moved, peer(4)], (now += 2000))).toEqual({ t: 'link-states-changed', links: [], gone: [peer(3).peerId] });
    // A new link with the peer: the whole list again.
    teller.forget(B);
    expect(teller.message(B, [peer(1), moved, peer(4)], (now += 2000))?.t).toBe('link-states');
  });

  it('a join in a project of 200 costs each peer one entry, not the whole list', () => {
    const teller = changesTeller();
    const project = Array.from({ length: 199 }, (_, i) => peer(i));
    teller.message(B, project, 0);
    const message = teller.message(B, [...project, peer(199)], 2000);
    expect(message).toEqual({ t: 'link-states-changed', links: [peer(199)], gone: [] });
  });

  it('an RTT that drifts by jitter each round is told once it is 20 % and 2 ms from the figure told, not from last round’s', () => {
    const teller = changesTeller();
    teller.message(B, states({ rttMs: 20 }), 0);
    expect(teller.message(B, states({ rttMs: 22 }), 2000)).toBeUndefined();
    expect(teller.message(B, states({ rttMs: 24 }), 4000)).toBeUndefined();
    expect(teller.message(B, states({ rttMs: 25 }), 6000)).toEqual({ t: 'link-states-changed', links: states({ rttMs: 25 }), gone: [] });
  });

  it('what the peer holds, changes applied in order, stays the sender’s links (RTTs within the jitter allowance) through random changes', () => {
    const next = seededRandom(19);
    const random = () => next(1_000_000) / 1_000_000;
    const teller = changesTeller();
    let held: SharedLinkState[] | undefined;
    const receive = (message: LinkStatesMessage | undefined) => {
      if (!message) return;
      held = message.t === 'link-states' ? message.links : applyLinkStateChanges(held, message);
    };
    const links = new Map<string, SharedLinkState>();
    for (let step = 0; step < 2000; step++) {
      const id = peer(Math.floor(random() * 30)).peerId;
      const roll = random();
      if (roll < 0.15) links.delete(id);
      else if (roll < 0.3) links.set(id, { peerId: id, state: random() < 0.5 ? 'direct' : 'relay', ...(random() < 0.5 ? { path: 'host' } : {}) });
      else if (links.has(id)) links.set(id, { ...links.get(id)!, rttMs: Math.floor(random() * 200) });
      if (step % 500 === 499) teller.forget(B); // the link with B made again: B starts over from a whole list
      if (step % 500 === 499) held = undefined;
      receive(teller.message(B, [...links.values()], step * 2000));
      const sent = [...links.values()].sort((x, y) => x.peerId.localeCompare(y.peerId));
      const got = [...(held ?? [])].sort((x, y) => x.peerId.localeCompare(y.peerId));
      expect(got.map(({ rttMs: _, ...rest }) => rest)).toEqual(sent.map(({ rttMs: _, ...rest }) => rest));
      for (const [i, s] of sent.entries()) {
        const g = got[i]!;
        if (s.rttMs === undefined || g.rttMs === undefined) expect(g.rttMs).toBe(s.rttMs);
        else expect(Math.abs(g.rttMs - s.rttMs)).toBeLessThanOrEqual(Math.max(2, 0.2 * g.rttMs));
      }
    }
  });

  it('a change that would make a peer’s list longer than a whole list may be is ignored, so changes cannot grow it without bound', () => {
    const full = Array.from({ length: MAX_SHARED_LINKS }, (_, i) => peer(i));
    expect(applyLinkStateChanges(full, { links: [peer(0)], gone: [] })).toHaveLength(MAX_SHARED_LINKS);
    expect(applyLinkStateChanges(full, { links: [peer(MAX_SHARED_LINKS)], gone: [] })).toBeUndefined();
    expect(applyLinkStateChanges(full, { links: [peer(MAX_SHARED_LINKS)], gone: [peer(0).peerId] })).toHaveLength(MAX_SHARED_LINKS);
  });
});
