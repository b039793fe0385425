/**
 * A link's state machine, in one place. The state is never set directly: it follows from what
 * the link has, checked in this order, so every transition is one of these conditions becoming
 * true or false (PeerLink records each transition in its history).
 *
 * | state       | when                                                                     |
 * |-------------|--------------------------------------------------------------------------|
 * | `closed`    | the link was closed (final)                                              |
 * | `direct`    | a DataChannel is open, over a host, server- or peer-reflexive pair       |
 * | `turn`      | a DataChannel is open, over a TURN server                                |
 * | `relay`     | no DataChannel, the link relays through the registry (the peer's session |
 * |             | key is known, so it can seal)                                            |
 * | `checking`  | ICE has begun checking (or got further): DTLS and SCTP follow, and a     |
 * |             | connection that got this far does not go back to `signaling`             |
 * | `signaling` | otherwise: offer, answer and candidates are on their way                 |
 *
 * Typical runs: `signaling → checking → direct`; no path within the fallback time:
 * `signaling|checking → relay → direct` (a retry succeeds, the stream moves without loss);
 * a DataChannel lost: `direct → relay` at once.
 */
export type LinkState = 'signaling' | 'checking' | 'direct' | 'turn' | 'relay' | 'closed';

/** What a link's state follows from. */
export interface LinkFacts {
  closed: boolean;
  /** A DataChannel carries the link. */
  channelOpen: boolean;
  /** The kind of the selected candidate pair, once known. */
  pathKind?: string;
  /** The link fell back to the registry relay... */
  relaying: boolean;
  /** ...and can seal for the peer's session. */
  sealed: boolean;
  /** The current RTCPeerConnection's ICE state (none between connections). */
  ice?: RTCIceConnectionState;
}

const ICE_UNDER_WAY: ReadonlySet<string> = new Set(['checking', 'connected', 'completed', 'disconnected', 'failed']);

export function linkStateOf(f: LinkFacts): LinkState {
  if (f.closed) return 'closed';
  if (f.channelOpen) return f.pathKind === 'turn' ? 'turn' : 'direct';
  if (f.relaying && f.sealed) return 'relay';
  return f.ice && ICE_UNDER_WAY.has(f.ice) ? 'checking' : 'signaling';
}
