/**
 * What a console tells a peer about how its links run (for the project graph), and when.
 *
 * A peer that takes changes (its own `link-states` said `changes: true`) is told the whole list
 * once per link, then only the entries that changed and the links that went
 * (`link-states-changed`). Each join changes one link of every console, so whole lists made a
 * join cost every console O(N²) bytes in a project of N (at 200 consoles, 199 messages of
 * ~12 KB), and the project O(N³); changes make it O(N) and O(N²).
 *
 * A peer that does not say it takes changes (a console from before them) gets the whole list
 * when it changed, and otherwise every LINK_STATES_REFRESH_MS, as before.
 *
 * A round trip time within 2 ms or 20 % of the one told is not a change (jitter): the other end
 * keeps the figure told, which is that close.
 */
import type { SharedLinkState } from './console';

export const LINK_STATES_REFRESH_MS = 30_000;
/** The most links a console's list holds, told whole or built up from changes. */
export const MAX_SHARED_LINKS = 1000;

export type LinkStatesMessage =
  /** The sender's links, all of them; `changes`: the sender takes changes in return. */
  | { t: 'link-states'; links: SharedLinkState[]; changes?: true }
  /** Only what changed since the last told: links new or changed, and those gone. */
  | { t: 'link-states-changed'; links: SharedLinkState[]; gone: string[] };

interface Told {
  /** What the peer holds of our links, as we told it (by peer id, in the order told). */
  states: Map<string, SharedLinkState>;
  at: number;
}

export class LinkStateTeller {
  private readonly told = new Map<string, Told>();
  private readonly takingChanges = new Set<string>();

  constructor(private readonly refreshMs = LINK_STATES_REFRESH_MS) {}

  /** What a peer's own `link-states` said: whether it takes changes. */
  heard(peerId: string, takesChanges: boolean): void {
    if (takesChanges) this.takingChanges.add(peerId);
    else this.takingChanges.delete(peerId);
  }

  /** The message to tell `peerId` now about these states, if any; if so, counted as told. */
  message(peerId: string, states: SharedLinkState[], now: number): LinkStatesMessage | undefined {
    const last = this.told.get(peerId);
    if (last && this.takingChanges.has(peerId)) {
      // Called for every peer every round: an idle round compares, and builds nothing.
      let stillThere = 0;
      const links = states.filter((s) => {
        const told = last.states.get(s.peerId);
        if (told) stillThere++;
        return !sameState(told, s);
      });
      const gone = stillThere === last.states.size ? [] : goneIds(last.states, states);
      if (links.length === 0 && gone.length === 0) return undefined;
      for (const id of gone) last.states.delete(id);
      for (const s of links) last.states.set(s.peerId, s);
      last.at = now;
      return { t: 'link-states-changed', links, gone };
    }
    if (last && now - last.at < this.refreshMs && sameStory(last.states, states)) return undefined;
    this.told.set(peerId, { states: new Map(states.map((s) => [s.peerId, s])), at: now });
    return { t: 'link-states', links: states, changes: true };
  }

  /** A new link with the peer (or none): it is told the whole list afresh. */
  forget(peerId: string): void {
    this.told.delete(peerId);
  }
}

/** The peer ids told that these states no longer have. */
function goneIds(told: Map<string, SharedLinkState>, states: SharedLinkState[]): string[] {
  const present = new Set(states.map((s) => s.peerId));
  return [...told.keys()].filter((id) => !present.has(id));
}

/** The same links, in the same order, each the same state (sameState). */
function sameStory(told: Map<string, SharedLinkState>, now: SharedLinkState[]): boolean {
  if (told.size !== now.length) return false;
  let i = 0;
  for (const t of told.values()) if (!sameState(t, now[i++]!)) return false;
  return true;
}

/** The same link, state, path and error, and a round trip time within 2 ms or 20 % of the one told. */
function sameState(told: SharedLinkState | undefined, now: SharedLinkState): boolean {
  if (!told || told.peerId !== now.peerId || told.state !== now.state || told.path !== now.path || told.error !== now.error) return false;
  if (told.rttMs === undefined || now.rttMs === undefined) return told.rttMs === now.rttMs;
  return Math.abs(now.rttMs - told.rttMs) <= Math.max(2, 0.2 * told.rttMs);
}

/**
 * A peer's links as last told, with a change applied (`link-states-changed`); undefined if that
 * would hold more than MAX_SHARED_LINKS, the bound of a whole list (the change is ignored: changes
 * cannot grow what a peer keeps for another without bound).
 */
export function applyLinkStateChanges(held: SharedLinkState[] | undefined, change: { links: SharedLinkState[]; gone: string[] }): SharedLinkState[] | undefined {
  const byPeer = new Map((held ?? []).map((s) => [s.peerId, s]));
  for (const id of change.gone) byPeer.delete(id);
  for (const s of change.links) byPeer.set(s.peerId, s);
  return byPeer.size > MAX_SHARED_LINKS ? undefined : [...byPeer.values()];
}
