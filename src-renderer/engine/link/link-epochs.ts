/**
 * Which link of the peer a link's stream talks to. Each end of a link numbers its stream with a
 * link id taken from its session's strictly increasing sequence (so a later link of a console has
 * a greater id than an earlier one), sends it in every signaling message, and puts its own id and
 * the peer's, as it knows it, on every relay frame.
 *
 * Why: one end of a link can be closed and made again while the other lives on (a peer away
 * longer than LinkManager waits for it, or a link one side gave up on): the new end's stream
 * starts at 1 while the old one expects where it stopped, and each would drop what the other
 * sends as duplicates, for good. With the ids, the old end sees the peer's newer link and starts
 * a new stream too; frames of an older link, or addressed to an older link of ours, are dropped.
 */

/** What an id seen from the peer means for this link. */
export type RemoteLinkNews =
  /** From an older link of the peer: drop what carried it. */
  | 'stale'
  /** The link we know (or the first we hear of). */
  | 'current'
  /** A newer link of the peer, and our stream had exchanged frames with its predecessor: start a new stream. */
  | 'restart'
  /** A newer link of the peer whose predecessor our stream never heard from: resend what it holds, to the new one. */
  | 'readdress';

export class LinkEpochs {
  /** This end's id; 0 on the wire means "not known yet". */
  local: number;
  /** The peer's link, as last heard. */
  remote: number | undefined;
  /** The peer's link our current stream has received frames from. */
  private streamPeer: number | undefined;

  constructor(private readonly nextId: () => number) {
    this.local = nextId();
  }

  observe(id: number): RemoteLinkNews {
    if (this.remote !== undefined && id < this.remote) return 'stale';
    if (this.remote === undefined || id === this.remote) {
      this.remote = id;
      return 'current';
    }
    this.remote = id;
    return this.streamPeer !== undefined && this.streamPeer !== id ? 'restart' : 'readdress';
  }

  /** A relay frame addressed to this end: to its current id, or by a peer that does not know it yet. */
  accepts(to: number): boolean {
    return to === 0 || to === this.local;
  }

  /** The stream received a frame from the peer's current link. */
  exchanged(): void {
    this.streamPeer ??= this.remote;
  }

  /** This end started a new stream: a new id, so that frames of the old one are told apart. */
  restarted(): void {
    this.local = this.nextId();
    this.streamPeer = undefined;
  }

  /** The peer started a new session: its links are numbered afresh. */
  forgetRemote(): void {
    this.remote = undefined;
    this.streamPeer = undefined;
  }
}

/** Marker byte of a relay plaintext: format 2 carries link ids (format 1 was the bare stream frame). */
const RELAY_FRAME_FORMAT = 2;
/** Bytes the link ids add to a stream frame on the relay. */
export const RELAY_LINK_HEADER_BYTES = 17;

/** A stream frame for the relay, with the sender's link id and the recipient's (0: not known yet). */
export function encodeRelayFrame(from: number, to: number, frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(RELAY_LINK_HEADER_BYTES + frame.length);
  const view = new DataView(out.buffer);
  out[0] = RELAY_FRAME_FORMAT;
  view.setFloat64(1, from);
  view.setFloat64(9, to);
  out.set(frame, RELAY_LINK_HEADER_BYTES);
  return out;
}

export function decodeRelayFrame(plaintext: Uint8Array): { from: number; to: number; frame: Uint8Array } | { error: string } {
  if (plaintext.length < RELAY_LINK_HEADER_BYTES || plaintext[0] !== RELAY_FRAME_FORMAT) {
    return { error: 'relay frame without link ids (the peer may run an older console)' };
  }
  const view = new DataView(plaintext.buffer, plaintext.byteOffset, RELAY_LINK_HEADER_BYTES);
  const from = view.getFloat64(1);
  const to = view.getFloat64(9);
  if (!Number.isSafeInteger(from) || from < 1 || !Number.isSafeInteger(to) || to < 0) return { error: 'relay frame with malformed link ids' };
  return { from, to, frame: plaintext.subarray(RELAY_LINK_HEADER_BYTES) };
}
