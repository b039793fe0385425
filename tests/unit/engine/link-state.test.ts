import { describe, expect, it } from 'vitest';
import { linkStateOf, type LinkFacts } from '../../../src-renderer/engine/link/link-state';

const none: LinkFacts = { closed: false, channelOpen: false, relaying: false, sealed: false };

describe('a link’s state machine', () => {
  it('follows from what the link has, in order: closed, a DataChannel, the relay, ICE under way, else signaling', () => {
    expect(linkStateOf(none)).toBe('signaling');
    expect(linkStateOf({ ...none, ice: 'new' })).toBe('signaling');
    for (const ice of ['checking', 'connected', 'completed', 'disconnected', 'failed'] as const) expect(linkStateOf({ ...none, ice })).toBe('checking');
    expect(linkStateOf({ ...none, ice: 'checking', relaying: true })).toBe('checking'); // no key to seal with yet
    expect(linkStateOf({ ...none, ice: 'checking', relaying: true, sealed: true })).toBe('relay');
    expect(linkStateOf({ ...none, channelOpen: true, relaying: true, sealed: true })).toBe('direct'); // back to direct
    expect(linkStateOf({ ...none, channelOpen: true, pathKind: 'turn' })).toBe('turn');
    expect(linkStateOf({ ...none, channelOpen: true, pathKind: 'srflx' })).toBe('direct');
    expect(linkStateOf({ closed: true, channelOpen: true, relaying: true, sealed: true, ice: 'connected' })).toBe('closed');
  });
});
