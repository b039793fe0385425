/**
 * When a console tells a peer how its links run (`link-states`, for the project graph): when
 * that changed since it last told that peer, and otherwise every LINK_STATES_REFRESH_MS. Told to every linked
 * peer every 2 s, the message — one entry per link of this console — cost each idle console
 * O(N²) bytes a round in a project of N (at 200 consoles, 199 messages of ~12 KB every 2 s).
 * A round trip time within 2 ms or 20 % of the one told is not a change (jitter); the refresh
 * carries the exact figure.
 */
import type { SharedLinkState } from './console';

export const LINK_STATES_REFRESH_MS = 30_000;

export class LinkStateTeller {
  private readonly told = new Map<string, { states: SharedLinkState[]; at: number }>();

  constructor(private readonly refreshMs = LINK_STATES_REFRESH_MS) {}

  /** Whether to tell `peerId` these states now; if so, counted as told. */
  due(peerId: string, states: SharedLinkState[], now: number): boolean {
    const last = this.told.get(peerId);
    if (last && now - last.at < this.refreshMs && sameStory(last.states, states)) return false;
    this.told.set(peerId, { states, at: now });
    return true;
  }

  /** A new link with the peer (or none): it is told afresh. */
  forget(peerId: string): void {
    this.told.delete(peerId);
  }
}

/** The same links, states, paths and errors, and round trip times within 2 ms or 20 % of what was told. */
function sameStory(told: SharedLinkState[], now: SharedLinkState[]): boolean {
  if (told.length !== now.length) return false;
  return told.every((t, i) => {
    const n = now[i]!;
    if (t.peerId !== n.peerId || t.state !== n.state || t.path !== n.path || t.error !== n.error) return false;
    if (t.rttMs === undefined || n.rttMs === undefined) return t.rttMs === n.rttMs;
    return Math.abs(n.rttMs - t.rttMs) <= Math.max(2, 0.2 * t.rttMs);
  });
}
