/**
 * A link that settles on TURN tries once for a direct pair (PeerLink.considerUpgrade): a PeerLink
 * on a manual clock over a stub connection whose DataChannel opens on a TURN pair. Seen in the
 * soak: a Firefox console and a Chromium one behind two address-filtering NATs stayed on TURN
 * while a direct pair was within reach.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PATH_UPGRADE_AFTER_MS, type PeerLink } from '../../../src-renderer/engine/link/peer-link';
import { openLinkOnStub } from './test-link';

const links: PeerLink[] = [];
afterEach(() => links.splice(0).forEach((link) => link.close()));

async function openLink(options: { polite: boolean; localType?: 'relay' | 'srflx'; iceTransportPolicy?: RTCIceTransportPolicy }) {
  const opened = await openLinkOnStub({ ...options, localType: options.localType ?? 'relay' });
  links.push(opened.link);
  expect(opened.link.polite).toBe(options.polite);
  return opened;
}

describe('a link on TURN tries once for a direct pair', () => {
  it(`the impolite side restarts ICE ${PATH_UPGRADE_AFTER_MS / 1000} s after settling on TURN, once per connection`, async () => {
    const { link, clock, pc } = await openLink({ polite: false });
    expect(link.snapshot().state).toBe('turn');
    clock.advance(PATH_UPGRADE_AFTER_MS - 1);
    expect(pc.restarts).toBe(0);
    clock.advance(1);
    expect(pc.restarts).toBe(1);
    expect(link.snapshot().history.some((h) => h.event === 'ice-restart' && /direct pair/.test(h.detail))).toBe(true);
    clock.advance(10 * 60_000); // still on TURN: no second try on this connection
    expect(pc.restarts).toBe(1);
    expect(link.snapshot().state).toBe('turn'); // the TURN pair carries on
  });

  it('not on the polite side (the impolite one does it), not on a direct path, not when the settings ask for TURN', async () => {
    for (const options of [{ polite: true }, { polite: false, localType: 'srflx' as const }, { polite: false, iceTransportPolicy: 'relay' as const }]) {
      const { clock, pc } = await openLink(options);
      clock.advance(10 * 60_000);
      expect(pc.restarts, JSON.stringify(options)).toBe(0);
    }
  });
});
