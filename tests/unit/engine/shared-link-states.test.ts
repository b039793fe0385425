/** What a console tells its peers about its links (link-states, docs/PEER-PROTOCOL.md): a recent error goes with them. */
import { describe, expect, it } from 'vitest';
import { sharedLinkStates } from '../../../src-renderer/engine/console';

describe('sharedLinkStates', () => {
  const now = 1_000_000;
  const link = { peerId: 'p'.repeat(26), state: 'relay' as const, path: { kind: 'registry-relay' }, rttMs: 12.4 };

  it('carries the code of the latest error while it is under a minute old, so the other end shows it', () => {
    const errors = [
      { at: now - 5000, code: 'NEGOTIATION_FAILED', message: 'x' },
      { at: now - 1000, code: 'RELAY_OVER_BUDGET', message: 'over budget' },
    ];
    expect(sharedLinkStates([{ ...link, errors }] as never, now)).toEqual([{ peerId: link.peerId, state: 'relay', path: 'registry-relay', rttMs: 12, error: 'RELAY_OVER_BUDGET' }]);
  });

  it('leaves an old error, and a link without errors, as they were before the field existed', () => {
    const errors = [{ at: now - 61_000, code: 'RELAY_OVER_BUDGET', message: 'over budget' }];
    expect(sharedLinkStates([{ ...link, errors }] as never, now)[0]).not.toHaveProperty('error');
    expect(sharedLinkStates([link] as never, now)[0]).not.toHaveProperty('error');
  });
});
