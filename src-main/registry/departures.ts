/**
 * Consoles that left a project lately. A frame addressed to one of them crossed its departure (the
 * sender had not heard `peer_left` yet, or was draining a queue): refused with UNKNOWN_PEER like
 * any frame to an absent console, but not held against the sender as a bad frame, as a frame to a
 * console that never was in the project is.
 */

/** How long a departure excuses frames to the console that left. */
export const DEPARTURE_GRACE_MS = 60_000;

export class RecentDepartures {
  /** project\0peer_id → when it left; in order of departure, so pruning stops at the first recent one. */
  private readonly left = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  note(project: string, peerId: string): void {
    const key = `${project}\u0000${peerId}`;
    this.left.delete(key);
    this.left.set(key, this.now());
    this.prune();
  }

  has(project: string, peerId: string): boolean {
    const at = this.left.get(`${project}\u0000${peerId}`);
    return at !== undefined && this.now() - at < DEPARTURE_GRACE_MS;
  }

  private prune(): void {
    const cutoff = this.now() - DEPARTURE_GRACE_MS;
    for (const [key, at] of this.left) {
      if (at >= cutoff) break;
      this.left.delete(key);
    }
  }
}
