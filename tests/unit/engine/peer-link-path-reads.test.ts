/**
 * How often a link on a DataChannel reads its path and RTT (getStats): every 2 s while it settles
 * (30 s after the channel opens, its path changes or ICE connects again, and while on TURN), every 10 s after — the
 * 2 s reads were ~30 % of an idle link's CPU. A PeerLink on a manual clock over a stub connection
 * whose getStats counts its calls.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PATH_READ_SETTLING_MS, PATH_READ_STEADY_MS, type PeerLink } from '../../../src-renderer/engine/link/peer-link';
import { openLinkOnStub } from './test-link';

const links: PeerLink[] = [];
afterEach(() => links.splice(0).forEach((link) => link.close()));

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

async function openLink() {
  const { link, clock, pc } = await openLinkOnStub({ polite: true }); // polite: no try for a direct pair when on TURN
  links.push(link);
  /** Reads during `ms` of clock, a second at a time. */
  const readsOver = async (ms: number) => {
    const before = pc.reads;
    for (let t = 0; t < ms; t += 1000) {
      clock.advance(1000);
      await flush();
    }
    return pc.reads - before;
  };
  return { link, clock, pc, readsOver };
}

describe('a link on a DataChannel reads its path', () => {
  it('at once when the channel opens, every 2 s for 30 s, then every 10 s', async () => {
    const { link, pc, readsOver } = await openLink();
    expect(pc.reads).toBe(1);
    expect(link.snapshot()).toMatchObject({ state: 'direct', rttMs: 20, path: { kind: 'host' } });
    expect(await readsOver(30_000)).toBe(30_000 / PATH_READ_SETTLING_MS);
    expect(await readsOver(120_000)).toBe(120_000 / PATH_READ_STEADY_MS);
  });

  it('sees a change of path within 10 s when steady, then reads every 2 s again, and as long as it is on TURN; ICE connecting again reads at once', async () => {
    const { link, pc, readsOver } = await openLink();
    await readsOver(60_000);
    // The agent switches to a TURN pair on its own, without an ICE state change.
    pc.localType = 'relay';
    pc.rtt = 0.08;
    await readsOver(PATH_READ_STEADY_MS);
    expect(link.snapshot()).toMatchObject({ state: 'turn', rttMs: 80, path: { kind: 'turn' } });
    // On TURN it keeps the settling pace (ICE may still find a direct pair), however long.
    await readsOver(60_000);
    expect(await readsOver(20_000)).toBe(20_000 / PATH_READ_SETTLING_MS);
    // Back on a direct pair: seen within 2 s, then the settling pace for 30 s, then steady.
    pc.localType = 'host';
    await readsOver(PATH_READ_SETTLING_MS);
    expect(link.snapshot()).toMatchObject({ state: 'direct', path: { kind: 'host' } });
    expect(await readsOver(30_000)).toBe(30_000 / PATH_READ_SETTLING_MS);
    expect(await readsOver(60_000)).toBe(60_000 / PATH_READ_STEADY_MS);
    // ICE disconnected and connected again: read at once.
    const before = pc.reads;
    pc.iceConnectionState = 'disconnected';
    pc.oniceconnectionstatechange?.();
    pc.iceConnectionState = 'connected';
    pc.oniceconnectionstatechange?.();
    await flush();
    expect(pc.reads).toBe(before + 1);
    expect(await readsOver(10_000)).toBe(10_000 / PATH_READ_SETTLING_MS);
  });

  it('stops reading when the link closes', async () => {
    const { link, pc, readsOver } = await openLink();
    link.close();
    const before = pc.reads;
    await readsOver(60_000);
    expect(pc.reads).toBe(before);
  });
});
