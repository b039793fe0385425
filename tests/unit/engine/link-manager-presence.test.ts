/**
 * Relayed links across a registry restart and a peer's absence, in Node with an in-memory registry
 * (fake-registry.ts): a link whose peer is not back yet waits for it and carries on where it
 * stopped; one whose peer does not come back is closed after PEER_RETURN_MS. (The same in Chromium
 * with a real registry: tests/browser/registry-restart.spec.ts.)
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PEER_RETURN_MS } from '../../../src-renderer/engine/link-manager';
import { FakeRegistry, type TestConsole } from './fake-registry';

let registry: FakeRegistry;
afterEach(() => {
  vi.useRealTimers();
  registry?.close();
});

const texts = (c: TestConsole) => c.received.filter((m): m is { text: string } => typeof (m as { text?: unknown }).text === 'string').map((m) => m.text);

async function relayedPair() {
  registry = new FakeRegistry();
  const [ada, bob] = [await registry.console('Ada'), await registry.console('Bob')];
  registry.connect(ada);
  registry.connect(bob);
  await expect.poll(() => [ada.links.snapshot(bob.identity.peerId)?.state, bob.links.snapshot(ada.identity.peerId)?.state]).toEqual(['relay', 'relay']);
  await ada.links.send(bob.identity.peerId, { t: 'test', text: 'before' });
  await expect.poll(() => texts(bob)).toEqual(['before']);
  return { ada, bob };
}

describe('relayed links when the registry restarts', () => {
  it('a message sent while the registry is down arrives as soon as both are back, though one reconnected before the other', async () => {
    const { ada, bob } = await relayedPair();
    registry.stop();
    await ada.links.send(bob.identity.peerId, { t: 'test', text: 'during the outage' });
    await new Promise((done) => setTimeout(done, 100));
    expect(texts(bob)).toEqual(['before']);

    registry.connect(ada); // Bob is not back yet: Ada's welcome does not list him
    await new Promise((done) => setTimeout(done, 100));
    const back = Date.now();
    registry.connect(bob);
    await expect.poll(() => texts(bob), { interval: 5 }).toEqual(['before', 'during the outage']);
    expect(Date.now() - back).toBeLessThan(500);
    await bob.links.send(ada.identity.peerId, { t: 'test', text: 'after' });
    await expect.poll(() => texts(ada), { interval: 5, timeout: 500 }).toEqual(['after']);
    // The same links carried on: none was closed and made again.
    expect([ada.closed, bob.closed]).toEqual([[], []]);
  });

  it('a peer that left and comes back in the same session finds the link where it was', async () => {
    const { ada, bob } = await relayedPair();
    registry.disconnect(bob);
    await ada.links.send(bob.identity.peerId, { t: 'test', text: 'while Bob was away' });
    await new Promise((done) => setTimeout(done, 100));
    registry.connect(bob);
    await expect.poll(() => texts(bob), { interval: 5, timeout: 500 }).toEqual(['before', 'while Bob was away']);
    expect(ada.closed).toEqual([]);
  });

  it('a peer that comes back in a new session (a reload) gets a new link, without alarms', async () => {
    const { ada, bob } = await relayedPair();
    registry.disconnect(bob);
    const bob2 = await registry.restart(bob, 'Bob');
    registry.connect(bob2);
    await expect.poll(() => ada.closed).toEqual([bob.identity.peerId]); // the old one, replaced
    await expect.poll(() => ada.links.snapshot(bob.identity.peerId)?.state).toBe('relay');
    await ada.links.send(bob.identity.peerId, { t: 'test', text: 'to the new session' });
    await expect.poll(() => texts(bob2), { timeout: 2000 }).toEqual(['to the new session']);
    expect(ada.errors).toEqual([]);
  });

  it('a peer that does not come back within PEER_RETURN_MS: its link is closed', async () => {
    const { ada, bob } = await relayedPair();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    registry.disconnect(bob);
    vi.advanceTimersByTime(PEER_RETURN_MS - 1000);
    expect(ada.closed).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(ada.closed).toEqual([bob.identity.peerId]);
  });
});

describe('a link made again on one side only', () => {
  it('a peer away longer than PEER_RETURN_MS comes back to a new link on the other side: both start new streams, and messages flow both ways', async () => {
    const { ada, bob } = await relayedPair();
    const resets: string[] = [];
    bob.links.on('reset', ({ peerId }) => resets.push(peerId));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    registry.disconnect(bob);
    vi.advanceTimersByTime(PEER_RETURN_MS);
    vi.useRealTimers();
    expect(ada.closed).toEqual([bob.identity.peerId]);
    // Bob's socket was dead all along (a laptop asleep): he keeps his end of the link and comes back.
    registry.connect(bob);
    expect(bob.closed).toEqual([]);
    await expect.poll(() => ada.links.snapshot(bob.identity.peerId)?.state).toBe('relay');
    await ada.links.send(bob.identity.peerId, { t: 'test', text: 'to the old end' });
    await bob.links.send(ada.identity.peerId, { t: 'test', text: 'from the old end' });
    await expect.poll(() => texts(bob), { timeout: 2000 }).toEqual(['before', 'to the old end']);
    await expect.poll(() => texts(ada), { timeout: 2000 }).toContain('from the old end');
    expect(bob.links.snapshot(ada.identity.peerId)!.history.map((h) => h.event)).toContain('peer-new-link');
    // Bob's applications hear that what was in flight to Ada's old end is gone (file transfers ask again).
    expect(resets).toEqual([ada.identity.peerId]);
  });
});

describe('a console removed from the project (its invite revoked)', () => {
  it('its links close at once at both ends (a peer only away would keep them PEER_RETURN_MS), and nothing sent afterwards reaches it', async () => {
    registry = new FakeRegistry();
    const [ada, bob, mallory] = [await registry.console('Ada'), await registry.console('Bob'), await registry.console('Mallory')];
    for (const c of [ada, bob, mallory]) registry.connect(c);
    const malloryId = mallory.identity.peerId;
    await expect.poll(() => [ada, bob].map((c) => c.links.snapshot(malloryId)?.state)).toEqual(['relay', 'relay']);
    await expect.poll(() => mallory.links.snapshots().map((s) => s.state)).toEqual(['relay', 'relay']);

    registry.revoke(mallory);
    // Not "away" (which waits PEER_RETURN_MS for it): gone, at the others' end and at its own.
    expect(ada.closed).toEqual([malloryId]);
    expect(bob.closed).toEqual([malloryId]);
    expect(mallory.closed.sort()).toEqual([ada.identity.peerId, bob.identity.peerId].sort());
    await expect(ada.links.send(malloryId, { t: 'test', text: 'after the revocation' })).rejects.toThrow(/no link/);
    await ada.links.send(bob.identity.peerId, { t: 'test', text: 'to Bob' });
    await expect.poll(() => texts(bob)).toEqual(['to Bob']);
    expect(texts(mallory)).toEqual([]);
  });
});

describe('registry refusals reach the link concerned', () => {
  it('RATE_LIMITED naming a signaling frame and a peer: that link sends its negotiation again', async () => {
    const { ada, bob } = await relayedPair();
    ada.client.fire('error', { code: 'RATE_LIMITED', message: 'dropped', refType: 'webrtc_offer', refPeerId: bob.identity.peerId });
    expect(ada.links.snapshot(bob.identity.peerId)!.history.map((h) => h.event)).toContain('signal-refused');
  });
});

describe('a linked console that renames itself', () => {
  it('is asked about again: a name the application refuses unlinks it (held) until released; a name it takes keeps the link', async () => {
    registry = new FakeRegistry();
    const refused = new Set<string>();
    const asked: string[] = [];
    const ada = await registry.console('Ada', undefined, (peer) => {
      asked.push(peer.display_name);
      return !refused.has(peer.display_name);
    });
    const carol = await registry.console('Carol');
    const held: string[] = [];
    ada.links.on('held', ({ peerId }) => held.push(peerId));
    registry.connect(ada);
    registry.connect(carol);
    const carolId = carol.identity.peerId;
    await expect.poll(() => ada.links.snapshot(carolId)?.state).toBe('relay');

    registry.rename(carol, 'Caroline'); // taken: the same link carries on
    expect(asked.at(-1)).toBe('Caroline');
    expect(ada.closed).toEqual([]);

    refused.add('Bob'); // as trust on first use refuses a pinned teammate's name
    registry.rename(carol, 'Bob');
    expect(held).toEqual([carolId]);
    expect(ada.closed).toEqual([carolId]);
    expect(ada.links.snapshot(carolId)).toBeUndefined();

    refused.delete('Bob'); // the user accepted
    ada.links.release(carolId);
    await expect.poll(() => ada.links.snapshot(carolId)?.state, { timeout: 5000 }).toBe('relay');
    await ada.links.send(carolId, { t: 'test', text: 'linked again' });
    await expect.poll(() => texts(carol), { timeout: 5000 }).toEqual(['linked again']);
  });
});
