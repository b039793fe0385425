/**
 * One RTCPeerConnection of a link and its negotiation: MDN's "perfect negotiation". The polite
 * side (the greater peer id) yields on glare; the impolite one ignores the colliding offer and,
 * if its own went unanswered too long to be a crossing, sends it again. Both sides create the
 * DataChannel pre-negotiated (id 0): the side that does not offer first creates it when the offer
 * arrives, so the usual start has no glare and costs one round trip less; if no offer comes within
 * `offerWaitMs` it offers itself.
 *
 * A link makes a new Negotiation for every connection (PeerLink.createConnection) and closes the
 * old one, which then does nothing more: none of its late events reaches the link. Signaling goes
 * out through the host, which addresses and authenticates it.
 */
import type { SignalType } from '../../../src-shared/protocol/signaling';
import type { Clock } from '../clock';
import { newConnectionId, type LinkSignal } from './signal-codec';
import { createLinkChannel, type PreparedConnection } from './prepared-connection';
import type { LinkConfig, LinkErrorCode } from './link-types';
import { Timers } from './timers';

/** An unanswered offer this old, met by the peer's own offer, was lost on the way. */
const LOST_OFFER_AFTER_MS = 1000;

export type SignalBody = Pick<LinkSignal, 'description' | 'candidate'>;

/** What a connection's negotiation needs from its link, and tells it. */
export interface NegotiationHost {
  readonly polite: boolean;
  config(): Pick<LinkConfig, 'blockDirect' | 'offerWaitMs' | 'holdCandidatesMs'>;
  /** Sends signaling for this connection (the link addresses and authenticates it). */
  signal(from: Negotiation, type: SignalType, body: SignalBody): void;
  record(event: string, detail: string): void;
  fail(code: LinkErrorCode, message: string): void;
  channelOpened(from: Negotiation, channel: RTCDataChannel): void;
  /** Channel events come from a connection's channel even after it was replaced: the link checks it is its path's. */
  channelClosed(channel: RTCDataChannel): void;
  channelMessage(channel: RTCDataChannel, data: ArrayBuffer): void;
  bufferedAmountLow(): void;
  iceStateChanged(from: Negotiation): void;
  connectionStateChanged(from: Negotiation): void;
}

export class Negotiation {
  /** This connection's id in signaling (`from`), so the peer can tell our connections apart. */
  readonly id = newConnectionId();
  /** The peer's connection this one is paired with, once it has said something. */
  remoteId: string | undefined;
  /** The peer's description was applied (a replaced peer connection then means a new one here too). */
  remoteDescribed = false;
  private makingOffer = false;
  private offerSentAt = 0;
  private ignoreOffer = false;
  private readonly pendingCandidates: RTCIceCandidateInit[] = [];
  /** This connection's candidates as sent (null: the end of them), to send again if the registry dropped one. */
  private readonly sentCandidates: Array<NonNullable<LinkSignal['candidate']> | null> = [];
  /** Candidates held back (`holdCandidatesMs`, see trickle), in the order gathered. */
  private readonly heldCandidates: Array<NonNullable<LinkSignal['candidate']> | null> = [];
  private channel: RTCDataChannel | undefined;
  private closed = false;
  private readonly timers: Timers<'offer-wait' | 'offer-resend' | 'held-candidates'>;

  /**
   * `offerNow`: this side offers at once (with `prepared`, a connection made ahead whose offer is
   * already set, and its channel); otherwise it waits `offerWaitMs` for the peer's offer.
   */
  constructor(
    readonly pc: RTCPeerConnection,
    private readonly host: NegotiationHost,
    private readonly clock: Clock,
    options: { offerNow: boolean; prepared?: Pick<PreparedConnection, 'channel' | 'described'> },
  ) {
    this.timers = new Timers(clock);
    if (options.offerNow) this.openChannel(options.prepared?.channel);
    else this.timers.set('offer-wait', host.config().offerWaitMs, () => this.offerAfterWaiting());

    pc.onnegotiationneeded = () => {
      // A connection with no channel has nothing to offer, and an offer without media sections
      // is refused under max-bundle ("no BUNDLE group"): Chromium 156 fires this event on the
      // bare connection when setConfiguration gives it ICE servers. The channel's creation makes
      // the offer itself (openChannel), so this event then finds it under way and does nothing;
      // it offers for what comes later (an ICE restart).
      if (this.channel && !this.makingOffer && pc.signalingState === 'stable') void this.makeOffer();
    };
    pc.onicecandidate = ({ candidate }) => {
      if (this.closed || host.config().blockDirect) return;
      this.trickle(candidate ? toCandidateInit(candidate) : null);
    };
    pc.oniceconnectionstatechange = () => !this.closed && host.iceStateChanged(this);
    pc.onconnectionstatechange = () => !this.closed && host.connectionStateChanged(this);

    if (options.prepared) {
      if (pc.localDescription) this.sendOfferAsSet();
      else void this.awaitPreparedOffer(options.prepared.described);
    }
  }

  /** Applies the peer's description or candidate (authenticated, and meant for this connection). */
  async apply(signal: SignalBody): Promise<void> {
    const { pc, host } = this;
    const { blockDirect } = host.config();
    if (signal.description) {
      const description = signal.description;
      const collision = description.type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
      this.ignoreOffer = !host.polite && collision;
      if (this.ignoreOffer) {
        host.record('glare', 'ignored the peer’s offer (impolite side)');
        this.resendOfferIfUnanswered();
        return;
      }
      if (description.type === 'answer' && pc.signalingState !== 'have-local-offer') return; // stale answer
      await pc.setRemoteDescription(blockDirect ? { type: description.type, sdp: withoutCandidates(description.sdp) } : description);
      if (this.closed) return;
      this.remoteDescribed = true;
      if (description.type === 'offer') {
        this.timers.clear('offer-wait');
        this.openChannel();
      }
      for (const candidate of this.pendingCandidates.splice(0)) await this.addCandidate(candidate);
      if (description.type === 'offer') {
        await pc.setLocalDescription();
        if (this.closed || !pc.localDescription) return;
        this.sendDescription(pc.localDescription);
      }
      return;
    }
    if (signal.candidate !== undefined) {
      if (blockDirect) return;
      const candidate: RTCIceCandidateInit = signal.candidate ?? { candidate: '' };
      // Candidates that arrive before the remote description wait for it.
      if (!pc.remoteDescription) this.pendingCandidates.push(candidate);
      else await this.addCandidate(candidate);
    }
  }

  /**
   * The registry dropped this connection's signaling of this type: send the negotiation's current
   * state again — the description still awaiting its answer, or the answer given, or every
   * candidate. Repeats are harmless: a stale answer and a known candidate are ignored.
   */
  resendAfterRefusal(type: SignalType): void {
    const { pc } = this;
    const local = pc.localDescription;
    if (type !== 'webrtc_ice_candidate') {
      const pending = local?.type === 'offer' ? pc.signalingState === 'have-local-offer' : local?.type === 'answer' && pc.signalingState === 'stable';
      if (local && pending) this.sendDescription(local);
      return;
    }
    for (const candidate of this.sentCandidates) this.host.signal(this, 'webrtc_ice_candidate', { candidate });
  }

  /** Sends again an offer still waiting for its answer; false if there is none. */
  resendPendingOffer(detail: string): boolean {
    const { pc } = this;
    if (pc.signalingState !== 'have-local-offer' || !pc.localDescription) return false;
    this.host.record('offer-resent', detail);
    this.offerSentAt = this.clock.now();
    this.sendDescription(pc.localDescription);
    return true;
  }

  /** Closes the connection; nothing of it reaches the link afterwards (but its channel's close). */
  close(): void {
    this.closed = true;
    this.timers.clearAll();
    const { pc } = this;
    pc.onnegotiationneeded = pc.onicecandidate = pc.oniceconnectionstatechange = pc.onconnectionstatechange = null;
    pc.close();
  }

  /**
   * Sends the offer already set on the connection (made ahead, or set by node-datachannel as the
   * channel was made): it holds the candidates gathered so far; later ones trickle as usual.
   */
  private sendOfferAsSet(): void {
    const { pc } = this;
    this.offerSentAt = this.clock.now();
    this.sendDescription(pc.localDescription!);
    if (pc.iceGatheringState === 'complete') this.trickle(null);
  }

  /**
   * Sends a candidate (null: the end of them) to the peer, or holds it back: host TCP candidates
   * and the end of candidates go out only if ICE has not connected `holdCandidatesMs` after them.
   * Where UDP works between two peers (nearly everywhere) neither is ever used — a UDP pair is
   * checked and selected first — yet they were ~40 % of a mesh's signaling, each message paid for
   * at both ends and at the registry (docs/BENCHMARKS.md, "Burst"). Where only TCP gets through,
   * or the peer's ICE agent waits for the end of candidates to give up (RFC 8838), they arrive
   * that much later than before; the relay fallback (10 s) is not affected.
   */
  private trickle(candidate: NonNullable<LinkSignal['candidate']> | null): void {
    const holdMs = this.host.config().holdCandidatesMs;
    if (holdMs <= 0 || (candidate && !isHostTcp(candidate.candidate))) return this.sendCandidate(candidate);
    this.heldCandidates.push(candidate);
    if (this.heldCandidates.length === 1) this.timers.set('held-candidates', holdMs, () => this.releaseHeldCandidates(holdMs));
  }

  private releaseHeldCandidates(heldMs: number): void {
    const held = this.heldCandidates.splice(0);
    const ice = this.pc.iceConnectionState;
    // Connected: they would change nothing. An ICE restart gathers (and holds) its own.
    if (ice === 'connected' || ice === 'completed') return;
    this.host.record('candidates-released', `ICE ${ice} after ${heldMs} ms: sending ${held.length} held back (host TCP, end of candidates)`);
    for (const candidate of held) this.sendCandidate(candidate);
  }

  private sendCandidate(candidate: NonNullable<LinkSignal['candidate']> | null): void {
    this.sentCandidates.push(candidate);
    this.host.signal(this, 'webrtc_ice_candidate', { candidate });
  }

  /** A connection begun while the peer was being checked: its offer goes out once set (a colliding offer meanwhile is glare). */
  private async awaitPreparedOffer(described: Promise<void> | undefined): Promise<void> {
    const { pc } = this;
    try {
      this.makingOffer = true;
      await described;
      if (this.closed || pc.signalingState !== 'have-local-offer' || !pc.localDescription) return;
      this.sendOfferAsSet();
    } catch (error) {
      if (!this.closed) this.host.fail('NEGOTIATION_FAILED', `creating an offer failed: ${(error as Error).message}`);
    } finally {
      this.makingOffer = false;
    }
  }

  private async makeOffer(): Promise<void> {
    const { pc } = this;
    try {
      this.makingOffer = true;
      await pc.setLocalDescription();
      if (this.closed || !pc.localDescription) return;
      this.offerSentAt = this.clock.now();
      this.sendDescription(pc.localDescription);
    } catch (error) {
      if (!this.closed) this.host.fail('NEGOTIATION_FAILED', `creating an offer failed: ${(error as Error).message}`);
    } finally {
      this.makingOffer = false;
    }
  }

  /** No offer came while this side waited: it offers itself (creating the channel makes the offer). */
  private offerAfterWaiting(): void {
    const { pc } = this;
    if (pc.remoteDescription || pc.signalingState !== 'stable') return;
    this.host.record('offer-wait', `no offer in ${this.host.config().offerWaitMs} ms: offering`);
    this.openChannel();
  }

  private openChannel(prepared?: RTCDataChannel): void {
    if (this.channel) return;
    const { pc, host } = this;
    const channel = prepared ?? createLinkChannel(pc);
    this.channel = channel;
    channel.binaryType = 'arraybuffer';
    channel.onopen = () => !this.closed && host.channelOpened(this, channel);
    channel.onclose = () => host.channelClosed(channel);
    channel.onerror = (event) => {
      const error = (event as RTCErrorEvent).error;
      if (!this.closed && channel.readyState === 'open') host.fail('DATACHANNEL_ERROR', error?.message ?? 'DataChannel error');
    };
    channel.onmessage = (event) => host.channelMessage(channel, event.data as ArrayBuffer);
    channel.onbufferedamountlow = () => host.bufferedAmountLow();
    // The offer is made now, not a task later on negotiationneeded (which then finds it under way
    // and does nothing): that hop cost 0.3–0.5 ms of a cold setup (docs/BENCHMARKS.md). Not while
    // answering: the peer's offer already negotiates the channel; nor for a prepared connection.
    if (prepared || pc.remoteDescription) return;
    if (pc.signalingState === 'stable') void this.makeOffer();
    // node-datachannel sets the offer by itself as the first channel is made: it is sent as set
    // (without this, a Node peer's link never offered on a connection it made itself: a retry, an
    // offer after waiting, a connection recreated after `failed`).
    else if (pc.signalingState === 'have-local-offer' && pc.localDescription) this.sendOfferAsSet();
  }

  /**
   * After ignoring the polite peer's offer. True glare crosses within milliseconds and the peer then
   * answers ours. A peer whose offer meets ours unanswered for longer never got ours (lost while
   * the registry was away, or dropped while it held us back): send it again, so the peer rolls
   * back and answers — now if ours is old enough to tell, or once it is.
   */
  private resendOfferIfUnanswered(): void {
    const { pc } = this;
    const resend = () => {
      if (this.closed || pc.signalingState !== 'have-local-offer' || pc.localDescription?.type !== 'offer') return;
      this.host.record('offer-resent', 'the peer had not seen our offer');
      this.sendDescription(pc.localDescription);
    };
    const age = this.clock.now() - this.offerSentAt;
    if (age > LOST_OFFER_AFTER_MS) resend();
    else this.timers.set('offer-resend', LOST_OFFER_AFTER_MS - age, resend);
  }

  private async addCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (error) {
      if (!this.ignoreOffer) this.host.record('candidate-rejected', (error as Error).message);
    }
  }

  private sendDescription(description: RTCSessionDescription): void {
    const type = description.type === 'offer' ? 'webrtc_offer' : 'webrtc_answer';
    const sdp = this.host.config().blockDirect ? withoutCandidates(description.sdp) : description.sdp;
    this.host.signal(this, type, { description: { type: description.type as 'offer' | 'answer', sdp } });
  }
}

/**
 * An SDP without its ICE candidates, for blockDirect. Browsers set a description before gathering,
 * so dropping trickled candidates is enough there; libdatachannel (a Node peer) gathers first and
 * puts its candidates in the SDP itself, which would let a direct path form anyway.
 */
function withoutCandidates(sdp: string): string {
  return sdp.replace(/^a=(candidate:.*|end-of-candidates)\r?\n/gm, '');
}

/** A host candidate over TCP (`candidate:<foundation> <component> tcp <priority> <address> <port> typ host …`). */
function isHostTcp(candidate: string): boolean {
  const fields = candidate.split(' ');
  return fields[2]?.toLowerCase() === 'tcp' && fields[6] === 'typ' && fields[7] === 'host';
}

function toCandidateInit(candidate: RTCIceCandidate): NonNullable<LinkSignal['candidate']> {
  return {
    candidate: candidate.candidate,
    sdpMid: candidate.sdpMid,
    sdpMLineIndex: candidate.sdpMLineIndex,
    usernameFragment: candidate.usernameFragment,
  };
}
