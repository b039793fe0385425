/**
 * PeerLink: one console's link to one peer. It holds a working path whatever the network allows —
 * a WebRTC DataChannel (direct, or via TURN) or the registry's end-to-end sealed relay — and says
 * which. Above it, the application sends and receives messages and cannot tell the paths apart:
 * a ReliableStream numbers every chunk, so moving between paths loses, duplicates and reorders
 * nothing.
 *
 * Knows nothing of Vue or WebSocket: signaling and relay go through a small `LinkPort`, and the
 * RTCPeerConnection constructor can be injected.
 *
 * What it decides itself is the link's life: which connection and path carry the stream now, a
 * replaced peer connection, the peer's new session or new link (a new stream, `reset`), the relay
 * paused and resumed, framing and ping, and what is reported. The rest is delegated: the state
 * machine (link-state.ts), when to relay or retry direct (path-policy.ts), one connection's perfect
 * negotiation (negotiation.ts), whether signaling is authentic (signal-auth.ts), the relay as a
 * path (relay-path.ts), ordering and retransmission (reliable-stream.ts).
 *
 * Longer than ~450 lines on purpose: what is left are a few short methods each over the same few
 * fields (the stream, the DataChannel path, whether it relays), the coordination the modules above
 * report to. Splitting them further would hand that state around instead of keeping it in one place.
 */
import { decode } from '@msgpack/msgpack';
import { encode } from '../../../src-shared/msgpack';
import type { SessionCertificate } from '../../../src-shared/session-certificate';
import type { SignalType } from '../../../src-shared/protocol/signaling';
import { Emitter } from '../emitter';
import { systemClock, type Clock } from '../clock';
import { PathPolicy } from './path-policy';
import { Timers } from './timers';
import { ReliableStream } from './reliable-stream';
import { msgpackLengthAtLeast } from './msgpack-length';
import { encodeSegments } from './msgpack-segments';
import { DataChannelPath, DATACHANNEL_PATH_ID } from './datachannel-path';
import { RelayPath, RELAY_PATH_ID } from './relay-path';
import { decodeLinkSignal, encodeLinkSignal } from './signal-codec';
import type { SignalKey } from './signal-key';
import { SignalAuthenticator, type CheckedSignal } from './signal-auth';
import { readCandidates, readSelectedPath, type PathInfo } from './path-stats';
import { LinkEpochs } from './link-epochs';
import { Negotiation, type NegotiationHost, type SignalBody } from './negotiation';
import { DEFAULT_LINK_CONFIG, rtcConfiguration, type CandidateInfo, type CandidatePairInfo, type LinkConfig, type LinkErrorCode, type LinkHistoryEntry, type LinkSnapshot, type PeerLinkOptions } from './link-types';
import { linkStateOf, type LinkState } from './link-state';

export { CHANNEL_LABEL } from './prepared-connection';
export * from './link-types';
export { RELAY_PATH_ID } from './relay-path';
const CHUNK_BYTES = 48 * 1024;
const HISTORY_LENGTH = 50;
/** A ping's period while the link is on the relay (its echo is the RTT shown there). */
const PING_INTERVAL_MS = 2000;
/**
 * On a DataChannel a link reads its path and RTT (getStats) every 2 s while it settles — the
 * first 30 s after the channel opens, its path changes or ICE reconnects, and as long as it is on
 * TURN, from where ICE may still move it to a direct pair — and every 10 s after:
 * the 2 s reads were ~30 % of an idle link's CPU (docs/BENCHMARKS.md, mesh). A path change
 * without an ICE state change (the agent switching pairs on its own) shows within 10 s then.
 */
export const PATH_READ_SETTLING_MS = 2000;
export const PATH_READ_STEADY_MS = 10_000;
const PATH_SETTLES_FOR_MS = 30_000;
/** How long a link stays on TURN before it tries once more for a direct pair (see considerUpgrade). */
export const PATH_UPGRADE_AFTER_MS = 3000;

type LinkEvents = {
  /** A path is usable (once per session of the peer). */
  open: void;
  message: unknown;
  /** Something a user or the GUI may want to show changed (state, path, counters, errors): `snapshot()` has it. */
  change: { peerId: string; state: LinkState };
  error: { code: LinkErrorCode; message: string };
  /** The peer restarted (new session key): messages in flight to its old session are gone. */
  reset: void;
};

const MSG_APP = 0;
const MSG_PING = 1;
const MSG_PONG = 2;

export class PeerLink extends Emitter<LinkEvents> {
  readonly polite: boolean;
  private readonly config: LinkConfig;
  /** The current RTCPeerConnection and its negotiation (negotiation.ts); a new one for every connection. */
  private conn: Negotiation | undefined;
  /** The peer's connections this link's were paired with before: their late signaling is dropped. */
  private readonly retiredRemotePcIds = new Set<string>();
  private dcPath: DataChannelPath | undefined;
  private stream: ReliableStream;
  /** Which link of the peer the stream talks to (a link made again on one side restarts both streams). */
  private readonly epochs: LinkEpochs;
  /** Which session of the peer the link talks to, and whether its signaling is authentic (signal-auth.ts). */
  private readonly auth: SignalAuthenticator;
  /** The link fell back to the registry relay (and is not direct again yet). */
  private relayActive = false;
  private opened = false;
  private closed = false;
  private inbox: Promise<void> = Promise.resolve();
  private path: PathInfo | undefined;
  private rttMs: number | undefined;
  private currentState: LinkState = 'signaling';
  private readonly history: LinkHistoryEntry[] = [];
  private readonly errors: LinkSnapshot['errors'] = [];
  private counters = { iceRestarts: 0, reconnects: 0, relayFallbacks: 0, rejectedSignals: 0 };
  private readonly clock: Clock;
  /** The link's own timers; the path policy keeps its own (fallback, retry, ICE restart). */
  private readonly timers: Timers<'relay-backoff' | 'ping' | 'path-upgrade' | 'path-read'>;
  /** Until when the path is read at the settling pace (PATH_READ_SETTLING_MS). */
  private pathSettlingUntil = 0;
  /** This connection has tried once for a direct pair after settling on TURN. */
  private upgradeTried = false;
  /** When to relay and when to try direct again (path-policy.ts). */
  private readonly policy: PathPolicy;
  /** How the connections' negotiations reach the link. */
  private readonly negotiationHost: NegotiationHost;
  /** The registry relay as a path (relay-path.ts). */
  private readonly relay: RelayPath;

  constructor(private readonly options: PeerLinkOptions) {
    super();
    this.config = { ...DEFAULT_LINK_CONFIG, ...options.config };
    this.polite = options.localPeerId > options.remotePeerId;
    this.clock = options.clock ?? systemClock;
    this.timers = new Timers(this.clock);
    this.policy = new PathPolicy(() => this.config, this.polite, {
      hasChannel: () => this.dcPath !== undefined,
      relay: (reason) => this.activateRelay(reason),
      dropChannel: (reason) => this.dropDataChannel(reason),
      reconnect: (reason) => this.createConnection(reason),
      restartIce: (reason) => this.tryRestartIce(reason),
    }, this.clock);
    this.negotiationHost = {
      polite: this.polite,
      config: () => this.config,
      signal: (from, type, body) => this.sendSignal(from, type, body),
      record: (event, detail) => this.record(event, detail),
      fail: (code, message) => this.fail(code, message),
      channelOpened: (from, channel) => this.onChannelOpen(from.pc, channel),
      channelClosed: (channel) => this.onChannelClosed(channel),
      channelMessage: (channel, data) => this.onChannelMessage(channel, data),
      bufferedAmountLow: () => this.stream.pump(),
      iceStateChanged: (from) => this.onIceState(from.pc),
      connectionStateChanged: ({ pc }) => {
        this.record('connection-state', pc.connectionState);
        if (pc.connectionState === 'failed') this.policy.failed('connection failed');
        // Not closed by the link (which stops listening first): node-datachannel closes a
        // connection that broke (an answer it could not apply). As good as failed: relay, retry.
        else if (pc.connectionState === 'closed') this.policy.failed('the connection closed by itself');
        this.updateState();
      },
    };
    this.stream = this.createStream();
    this.epochs = new LinkEpochs(options.nextSeq);
    this.auth = new SignalAuthenticator(options);
    this.relay = new RelayPath(options.port, this.epochs);
    if (options.remoteCertificate) this.adoptCertificate(options.remoteCertificate, options.remoteSignalKey);
  }

  /** The current connection, if any. */
  private get pc(): RTCPeerConnection | undefined {
    return this.conn?.pc;
  }

  /** Whether the link's first connection offers at once (the manager's choice; else the impolite side). */
  private get offersAtStart(): boolean {
    return this.options.offersFirst ?? !this.polite;
  }

  get peerId(): string {
    return this.options.remotePeerId;
  }

  /** Where the link stands (link-state.ts). */
  get state(): LinkState {
    return this.currentState;
  }

  /** Diagnostics and tests: the DataChannel carrying the link now, if any (read-only: the link owns it). */
  get dataChannel(): RTCDataChannel | undefined {
    return this.dcPath?.channel;
  }

  /** The peer's session this link talks to, when known (from presence or its signaling). */
  get remoteSession(): SessionCertificate | undefined {
    return this.auth.certificate;
  }

  start(): void {
    this.record('start', `${this.polite ? 'polite' : 'impolite'} side, ${this.offersAtStart ? 'offers first' : 'waits for an offer'}`);
    this.createConnection('start', true);
  }

  /**
   * Sends an application message (any MessagePack value). Resolves once it is queued within the
   * window. A Uint8Array of 64 KiB or more inside it is not copied when send() is called but as its
   * frames are cut (msgpack-segments.ts): leave it unchanged until the promise resolves.
   */
  send(message: unknown): Promise<void> {
    if (this.closed) return Promise.reject(new Error('link closed'));
    return this.stream.send(encodeSegments([MSG_APP, message]));
  }

  /** A signaling payload from this peer, via the registry. */
  handleSignal(type: SignalType, payload: Uint8Array): void {
    // Authenticity checks start at once and run side by side; messages are then applied in order.
    const checked = this.auth.check(type, payload);
    this.inbox = this.inbox.then(() => this.processSignal(type, checked)).catch((error: Error) => this.fail('NEGOTIATION_FAILED', error.message));
  }

  /** A sealed relay blob from this peer, via the registry. */
  handleRelay(blob: Uint8Array): void {
    if (this.closed) return;
    const addressed = this.relay.open(blob);
    if (!addressed.ok) return this.fail(addressed.code, addressed.message);
    // The peer's link first (a newer one restarts our stream, and with it our id), then ours.
    if (this.observeRemoteLink(addressed.from) === 'stale') return;
    if (!this.epochs.accepts(addressed.to)) return; // for an earlier stream of ours: the peer resends to this one
    // It came through the registry, so the peer is there: a paused relay carries on.
    if (this.relay.paused) this.resumeRelay('the peer relays again');
    if (!this.relayActive && !this.dcPath) this.activateRelay('the peer relays');
    this.epochs.exchanged();
    this.stream.receive(addressed.frame, RELAY_PATH_ID);
  }

  /**
   * The registry refused one of this link's relay frames. The stream stops using the relay for a
   * moment (the recipient is behind, or the budget needs to refill), then resends what is unacked.
   */
  relayRefused(code: string, message: string): void {
    if (this.closed || this.relay.paused || this.timers.has('relay-backoff')) return;
    const overBudget = code === 'RELAY_OVER_BUDGET';
    if (overBudget) this.fail('RELAY_OVER_BUDGET', message);
    else this.record('relay-refused', `${code}: ${message}`);
    this.stream.pathLost(RELAY_PATH_ID);
    // UNKNOWN_PEER: the peer is not at the registry (left, or not back after a restart). Its
    // return (resumeRelay) ends the wait at once; the retry covers a presence event that is lost.
    this.timers.set('relay-backoff', overBudget || code === 'UNKNOWN_PEER' ? 1000 : 50, () => {
      if (this.relayActive && !this.dcPath && !this.relay.paused) this.stream.setPath(this.relay);
    });
  }

  /**
   * The registry connection is down, or the peer is not at the registry: the relay stops sending
   * (nothing is dropped; the stream keeps what is unacknowledged) until resumeRelay.
   */
  pauseRelay(reason: string): void {
    if (this.closed || this.relay.paused) return;
    this.relay.paused = true;
    this.timers.clear('relay-backoff');
    if (this.relayActive) this.record('relay-paused', reason);
    // What went out on the relay and is not acknowledged is resent as soon as it resumes.
    this.stream.pathLost(RELAY_PATH_ID);
  }

  /** The peer is reachable through the registry again: the relay resends what is unacknowledged at once. */
  resumeRelay(reason: string): void {
    if (this.closed) return;
    const paused = this.relay.paused;
    this.relay.paused = false;
    this.timers.clear('relay-backoff');
    if (!this.relayActive || this.dcPath) return;
    if (paused) this.record('relay-resumed', reason);
    this.useRelayPath();
  }

  /**
   * The registry dropped one of this link's signaling messages (its rate limit; the notice names
   * the first frame dropped, others may have gone with it): send the negotiation's current state
   * again now — the description still awaiting its answer, or the answer given, or every
   * candidate of the connection — instead of waiting for the fallback or an ICE timeout. Repeats
   * are harmless: a stale answer and a known candidate are ignored.
   */
  signalRefused(type: SignalType, code: string): void {
    const conn = this.conn;
    if (this.closed || !conn) return;
    this.record('signal-refused', `${type} dropped by the registry (${code}): sending it again`);
    conn.resendAfterRefusal(type);
  }

  /** The registry connection is back and the peer is there: resume the relay, and negotiation if the link is not up. */
  signalingRestored(): void {
    if (this.closed) return;
    this.resumeRelay('the registry connection is back');
    const conn = this.conn;
    if (this.dcPath && conn) {
      // Found by the NAT lab: a network change also drops the registry connection, so the ICE
      // restart it triggers can lose its offer (or answer) on the way, leaving both sides
      // waiting. Send the pending offer again (its SDP holds the candidates gathered meanwhile),
      // or restart once more if ICE is still down.
      if (!conn.resendPendingOffer('registry reconnected during negotiation') && !['connected', 'completed'].includes(conn.pc.iceConnectionState)) {
        this.policy.restartIce('registry reconnected while ICE was down');
      }
      return;
    }
    if (this.dcPath) return;
    if (!this.polite) this.createConnection('registry reconnected');
  }

  /** New ICE servers (fresh TURN credentials) for current and future connections. */
  updateIceServers(iceServers: RTCIceServer[]): void {
    this.config.iceServers = iceServers;
    try {
      this.pc?.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
    } catch (error) {
      this.record('ice-servers', `not applied to the current connection: ${(error as Error).message}`);
    }
  }

  /**
   * New settings from the user, applied without a new connection. The fallback time counts from
   * the next negotiation. A new ICE transport policy or new ICE servers go to the connection with
   * setConfiguration, and a connection that has negotiated restarts ICE to gather with them: its
   * DataChannel, and so the link's state and stream, stay while ICE moves to a path they allow
   * (the restart's negotiationneeded makes an offer like any other; one still waiting for an
   * answer makes it once answered). A connection that has gathered nothing yet gathers with them.
   */
  reconfigure(change: Pick<LinkConfig, 'fallbackAfterMs' | 'iceTransportPolicy' | 'iceServers'>): void {
    const iceChanged = change.iceTransportPolicy !== this.config.iceTransportPolicy || JSON.stringify(change.iceServers) !== JSON.stringify(this.config.iceServers);
    Object.assign(this.config, change);
    const pc = this.pc;
    if (!iceChanged || this.closed || !pc) return;
    try {
      pc.setConfiguration({ ...pc.getConfiguration(), iceServers: change.iceServers, iceTransportPolicy: change.iceTransportPolicy });
    } catch (error) {
      this.record('ice-servers', `not applied to the current connection: ${(error as Error).message}`);
      return;
    }
    if (!pc.localDescription && !pc.remoteDescription) return;
    this.policy.restartIce('new ICE settings');
    this.updateState();
  }

  /**
   * Diagnostics: force this link onto the registry relay (drop the direct path and block new
   * ones), or let it go direct again at once.
   */
  forceRelay(on: boolean): void {
    if (this.closed) return;
    this.setBlockDirect(on);
    this.record('force-relay', on ? 'forced onto the registry relay' : 'direct paths allowed again');
    if (on) {
      this.dropDataChannel();
      this.createConnection('forced relay');
    } else {
      this.policy.directAllowed();
      this.createConnection('direct allowed again');
    }
  }

  /** Diagnostics and tests: allow or forbid direct paths from now on. */
  setBlockDirect(block: boolean): void {
    this.config.blockDirect = block;
    this.record('config', block ? 'direct paths blocked' : 'direct paths allowed');
  }

  snapshot(): LinkSnapshot {
    const s = this.stream.stats();
    return {
      peerId: this.options.remotePeerId,
      state: this.currentState,
      ...(this.path ? { path: this.path } : {}),
      ...(this.rttMs !== undefined ? { rttMs: this.rttMs } : {}),
      bytesSent: s.bytesSent,
      bytesReceived: s.bytesReceived,
      messagesSent: s.messagesSent,
      messagesReceived: s.messagesReceived,
      retransmittedFrames: s.retransmittedFrames,
      duplicateFrames: s.duplicateFrames,
      iceConnectionState: this.pc?.iceConnectionState ?? 'closed',
      connectionState: this.pc?.connectionState ?? 'closed',
      iceRestarts: this.counters.iceRestarts,
      reconnects: this.counters.reconnects,
      relayFallbacks: this.counters.relayFallbacks,
      rejectedSignals: this.counters.rejectedSignals,
      history: [...this.history],
      errors: [...this.errors],
    };
  }

  /**
   * Diagnostics (like chrome://webrtc-internals, for this link): the snapshot plus the ICE
   * candidates on both sides and the candidate pairs with their state. Addresses are included;
   * no keys, SDP fingerprints or credentials are.
   */
  async diagnostics(): Promise<LinkSnapshot & { candidates: CandidateInfo[]; pairs: CandidatePairInfo[]; connectionId: string }> {
    const { candidates, pairs } = this.pc ? await readCandidates(this.pc) : { candidates: [], pairs: [] };
    return { ...this.snapshot(), candidates, pairs, connectionId: this.conn?.id ?? '' };
  }

  /** Closes for good; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timers.clearAll();
    this.policy.close();
    this.relay.stopPump();
    this.closeConnection();
    this.stream.close();
    this.updateState('link closed');
    this.removeAllListeners();
  }

  // --- the RTCPeerConnection ------------------------------------------------------------------

  /**
   * `first`: the link's first connection, which may come from a connection prepared ahead (later
   * ones follow a change in the network, which a prepared one may predate).
   */
  private createConnection(reason: string, first = false): void {
    if (this.closed) return;
    const hadConnection = Boolean(this.conn);
    this.closeConnection();
    this.upgradeTried = false;
    this.timers.clear('path-upgrade');
    if (hadConnection) this.counters.reconnects++;
    const configuration = rtcConfiguration(this.config);
    // One side offers at once (after a start, the one the manager chose; otherwise the impolite
    // one), from a connection prepared ahead when there is one: not while direct paths are blocked,
    // as its SDP already holds candidates.
    const offerNow = first ? this.offersAtStart : !this.polite;
    const ready = first && offerNow && !this.config.blockDirect ? this.options.preparer?.take(configuration) : undefined;
    const bare = first && !offerNow ? this.options.preparer?.takeBare(configuration) : undefined;
    const pc = ready?.pc ?? bare ?? (this.options.createPeerConnection ?? ((c) => new RTCPeerConnection(c)))(configuration);
    this.record('connection', `${ready ? 'prepared' : bare ? 'prepared bare' : 'new'} RTCPeerConnection (${reason})`);
    this.conn = new Negotiation(pc, this.negotiationHost, this.clock, { offerNow, ...(ready ? { prepared: ready } : {}) });
    this.policy.negotiationStarted();
    this.updateState();
  }

  private closeConnection(): void {
    const conn = this.conn;
    this.conn = undefined;
    this.policy.connectionClosed();
    conn?.close();
  }

  private onIceState(pc: RTCPeerConnection): void {
    const state = pc.iceConnectionState;
    this.record('ice-state', state);
    this.policy.iceState(state, () => (this.pc === pc ? pc.iceConnectionState : undefined));
    if (state === 'connected' || state === 'completed') this.readPathSoon();
    this.updateState();
  }

  /** Restarts ICE on the current connection; false where the stack cannot (the policy then treats it as failed). */
  private tryRestartIce(reason: string): boolean {
    const pc = this.pc;
    if (!pc) return false;
    try {
      pc.restartIce();
    } catch (error) {
      this.record('ice-restart', `not supported here (${(error as Error).message}): ${reason}`);
      return false;
    }
    this.counters.iceRestarts++;
    this.record('ice-restart', reason);
    return true;
  }

  // --- signaling --------------------------------------------------------------------------------

  /**
   * Addresses a connection's signaling (its id, the peer's connection it is paired with, this
   * link's epoch) and sends it authenticated (signal-auth.ts), in call order.
   */
  private sendSignal(from: Negotiation, type: SignalType, body: SignalBody): void {
    const inner = encodeLinkSignal({ v: 1, from: from.id, to: from.remoteId ?? null, link: this.epochs.local, ...body });
    this.auth
      .send(type, inner, (payload) => {
        if (this.closed) return;
        if (!this.options.port.sendSignal(type, payload)) this.record('signal-lost', `${type} not sent: the registry is not connected`);
      })
      .catch((error: Error) => this.fail('NEGOTIATION_FAILED', `signing failed: ${error.message}`));
  }

  /** Applies the authentication's verdict: a refusal is reported (never applied), a new session of the peer adopted. */
  private async authenticate(type: SignalType, checking: Promise<CheckedSignal>): Promise<Uint8Array | undefined> {
    const verdict = this.auth.accept(type, await checking);
    if (!verdict.ok) {
      if (verdict.code === 'STALE') return void this.record('signal-stale', verdict.message);
      if (verdict.code === 'BAD_SIGNAL') return void this.fail('BAD_SIGNAL', verdict.message);
      // Refused as forged or replayed: a sign of a tampering registry.
      this.counters.rejectedSignals++;
      this.fail(verdict.code, verdict.message);
      return void this.updateState();
    }
    if (this.closed) return undefined;
    if (verdict.newSession) this.adoptCertificate(verdict.newSession.certificate, verdict.newSession.signalKey);
    return verdict.body;
  }

  private async processSignal(type: SignalType, checked: Promise<CheckedSignal>): Promise<void> {
    if (this.closed) return;
    const body = await this.authenticate(type, checked);
    if (!body || this.closed) return;
    const signal = decodeLinkSignal(body);
    if ('error' in signal) return this.fail('BAD_SIGNAL', signal.error);
    if (signal.link !== undefined && this.observeRemoteLink(signal.link) === 'stale') return; // from an older link of the peer
    if (this.retiredRemotePcIds.has(signal.from)) return; // late news from a replaced connection
    if (signal.to && signal.to !== this.conn?.id && signal.description?.type !== 'offer') return; // for our replaced connection

    const previous = this.conn;
    if (previous?.remoteId && signal.from !== previous.remoteId) {
      // The peer replaced its connection: ours was paired with the old one, so start afresh.
      this.retiredRemotePcIds.add(previous.remoteId);
      if (previous.remoteDescribed) this.createConnection('the peer started a new connection');
    }
    const conn = this.conn;
    if (!conn) return;
    conn.remoteId = signal.from;
    await conn.apply(signal);
  }

  /**
   * Adopts the peer's (verified) session certificate; a new one means the peer restarted. Messages
   * to it are MAC'd once the key shared with it is known: given, or derived now (signed meanwhile).
   */
  private adoptCertificate(certificate: SessionCertificate, signalKey?: SignalKey): void {
    const restarted = this.auth.adopt(certificate, signalKey);
    this.relay.sealFor(this.options.session, certificate.boxKey);
    if (restarted) {
      // Its links are numbered afresh in the new session.
      this.epochs.forgetRemote();
      this.restartStream('peer-restarted', 'new session key: starting a new stream');
    } else if (this.relayActive && !this.dcPath) this.useRelayPath();
  }

  /** Notes which link of the peer sent something; a newer one than the stream's restarts it, or readdresses what it holds. */
  private observeRemoteLink(id: number): ReturnType<LinkEpochs['observe']> {
    const news = this.epochs.observe(id);
    if (news === 'restart') this.restartStream('peer-new-link', 'the peer made this link again: starting a new stream');
    else if (news === 'readdress' && this.stream.stats().unackedBytes > 0) {
      // What went out on the relay was addressed to the peer's previous link, which dropped it.
      this.stream.pathLost(RELAY_PATH_ID);
      if (this.relayActive && !this.dcPath) this.useRelayPath();
    }
    return news;
  }

  /**
   * A new stream (the peer restarted, or made the link again): what the old one held is gone with
   * the peer's old end; the application hears `reset`, then `open` again (and the workstream
   * catches up through its hello).
   */
  private restartStream(event: string, detail: string): void {
    this.record(event, detail);
    this.stream.close();
    this.stream = this.createStream();
    this.epochs.restarted();
    this.opened = false;
    if (this.dcPath) this.stream.setPath(this.dcPath);
    this.emit('reset', undefined);
    if (this.dcPath) this.markOpen();
    else if (this.relayActive) this.useRelayPath();
  }

  // --- paths ---------------------------------------------------------------------------------------

  private onChannelOpen(pc: RTCPeerConnection, channel: RTCDataChannel): void {
    this.policy.channelOpened();
    const wasRelayed = this.relayActive;
    this.relayActive = false;
    this.relay.stopPump();
    this.dcPath = new DataChannelPath(channel, pc.sctp?.maxMessageSize, this.config.maxMessageBytes + 1024);
    this.stream.setPath(this.dcPath);
    this.record('datachannel-open', wasRelayed ? 'moved back from the registry relay to a direct path' : 'DataChannel open');
    this.readPathSoon();
    this.markOpen();
  }

  private onChannelClosed(channel: RTCDataChannel): void {
    if (this.dcPath?.channel === channel) this.dropDataChannel();
  }

  private dropDataChannel(reason = 'DataChannel closed'): void {
    if (!this.dcPath) return;
    this.dcPath = undefined;
    this.timers.clear('path-read');
    this.stream.pathLost(DATACHANNEL_PATH_ID);
    this.record('datachannel-closed', reason);
    // It was working a moment ago: relay at once rather than leave the application waiting.
    this.policy.channelLost(reason, reason === 'DataChannel closed' ? 'the DataChannel closed' : `the DataChannel's connection failed: ${reason}`);
  }

  private onChannelMessage(channel: RTCDataChannel, data: ArrayBuffer): void {
    const path = this.dcPath;
    if (!path || path.channel !== channel) return;
    const frame = path.receive(data);
    if (!frame) return;
    if ('error' in frame) return this.fail('MALFORMED_FRAME', frame.error);
    this.epochs.exchanged();
    this.stream.receive(frame, DATACHANNEL_PATH_ID);
  }

  private activateRelay(reason: string): void {
    if (this.closed || this.dcPath || this.relayActive) return;
    this.relayActive = true;
    this.counters.relayFallbacks++;
    this.record('relay', `registry relay (${reason})`);
    this.useRelayPath();
    this.updateState();
  }

  private useRelayPath(): void {
    if (!this.relay.sealed) return; // set up when the peer's session key arrives
    if (!this.relay.paused) this.stream.setPath(this.relay);
    this.path = { kind: 'registry-relay' };
    this.relay.pump(() => this.stream);
    if (!this.timers.has('ping')) this.timers.set('ping', 0, () => this.ping());
    this.markOpen();
  }

  private markOpen(): void {
    this.updateState();
    if (this.opened) return;
    this.opened = true;
    this.emit('open', undefined);
  }

  /**
   * Over the relay the ping's echo is the only RTT there is. Over a DataChannel ICE measures it
   * (getStats) and checks the path itself (consent freshness), so an idle link sends nothing of
   * its own: pings stop when a DataChannel carries the link, and start again on the relay.
   */
  private ping(): void {
    if (this.closed || this.dcPath) return;
    void this.stream.send(encode([MSG_PING, performance.now()])).catch(() => undefined);
    this.timers.set('ping', PING_INTERVAL_MS, () => this.ping());
  }

  /** Reads the path now, and at the settling pace for the next 30 s (a channel opened, ICE connected again). */
  private readPathSoon(): void {
    this.pathSettlingUntil = this.clock.now() + PATH_SETTLES_FOR_MS;
    void this.refreshStats();
  }

  private async refreshStats(): Promise<void> {
    const pc = this.pc;
    if (!pc || !this.dcPath) return;
    // One pending read at a time: a read asked for meanwhile replaces the scheduled one.
    const next = () => {
      if (this.closed || this.pc !== pc || !this.dcPath) return;
      // On TURN the agent may still find a direct pair (considerUpgrade): watched at the settling pace.
      const settling = this.clock.now() < this.pathSettlingUntil || this.path?.kind === 'turn';
      this.timers.set('path-read', settling ? PATH_READ_SETTLING_MS : PATH_READ_STEADY_MS, () => void this.refreshStats());
    };
    try {
      const path = await readSelectedPath(pc);
      if (this.pc !== pc || !this.dcPath || !path) return next();
      const changed = path.kind !== this.path?.kind || path.protocol !== this.path?.protocol || path.family !== this.path?.family;
      if (changed && this.path) this.pathSettlingUntil = this.clock.now() + PATH_SETTLES_FOR_MS;
      this.path = path;
      if (path.rttMs !== undefined) this.rttMs = path.rttMs;
      if (changed) this.record('path', `${path.kind}${path.protocol ? `/${path.protocol}` : ''} ${path.family ? `${path.family} ` : ''}${path.local ?? ''} ⇄ ${path.remote ?? ''}`);
      if (path.kind === 'turn') this.considerUpgrade(pc);
      this.updateState();
    } catch {
      // getStats on a closing connection: nothing to report
    }
    next();
  }

  /**
   * A link that settled on TURN may have had a direct pair within reach: through two NATs that
   * filter by address, the first checks of the direct pairs fail until both sides' checks have
   * opened their mappings, while the TURN pair succeeds at once, and an ICE agent that nominates
   * what succeeded first (Firefox's, seen in the soak) keeps it. So once per connection, a few
   * seconds in, the impolite side restarts ICE: with the mappings open a direct pair wins if there
   * is one; if not, the TURN pair carries on through the restart and nothing changes. Not when TURN
   * is what the settings ask for (ICE policy 'relay'), nor on a stack without ICE restarts.
   */
  private considerUpgrade(pc: RTCPeerConnection): void {
    if (this.upgradeTried || this.polite || this.config.iceTransportPolicy === 'relay') return;
    this.upgradeTried = true;
    this.timers.set('path-upgrade', PATH_UPGRADE_AFTER_MS, () => {
      if (this.closed || this.pc !== pc || this.path?.kind !== 'turn') return;
      this.tryRestartIce('on TURN: one more try for a direct pair');
    });
  }

  private createStream(): ReliableStream {
    // The limit is on the application message; the stream also carries its small envelope.
    // Every stream message is one MessagePack value (the envelope): its first chunk says how long it is.
    const stream = new ReliableStream({ chunkBytes: CHUNK_BYTES, maxMessageBytes: this.config.maxMessageBytes + 1024, messageLength: msgpackLengthAtLeast });
    stream.on('message', (bytes) => this.onStreamMessage(bytes));
    stream.on('error', (error) => this.fail(error.code, error.message));
    return stream;
  }

  private onStreamMessage(bytes: Uint8Array): void {
    let decoded: unknown;
    try {
      decoded = decode(bytes);
    } catch {
      return this.fail('BAD_MESSAGE', 'a message from the peer is not MessagePack');
    }
    if (!Array.isArray(decoded) || typeof decoded[0] !== 'number') return this.fail('BAD_MESSAGE', 'a message from the peer has no kind');
    const [kind, body] = decoded as [number, unknown];
    if (kind === MSG_APP) this.emit('message', body);
    else if (kind === MSG_PING) void this.stream.send(encode([MSG_PONG, body])).catch(() => undefined);
    else if (kind === MSG_PONG && typeof body === 'number') {
      // Over a DataChannel, ICE's own RTT (getStats) is more precise; over the relay this is all there is.
      if (!this.dcPath) this.rttMs = performance.now() - body;
      this.updateState();
    }
  }

  // --- state and reporting ---------------------------------------------------------------------

  /** Moves to the state the link's facts give (link-state.ts), recording a transition; tells listeners. */
  private updateState(reason = ''): void {
    const next = linkStateOf({
      closed: this.closed,
      channelOpen: this.dcPath !== undefined,
      ...(this.path ? { pathKind: this.path.kind } : {}),
      relaying: this.relayActive,
      sealed: this.relay.sealed,
      ...(this.pc ? { ice: this.pc.iceConnectionState } : {}),
    });
    if (next !== 'relay' && !this.dcPath && this.path?.kind === 'registry-relay') this.path = undefined;
    if (next !== this.currentState) {
      this.record('state', `${this.currentState} → ${next}${reason ? ` (${reason})` : ''}`);
      this.currentState = next;
    }
    this.emit('change', { peerId: this.options.remotePeerId, state: next });
  }

  private fail(code: LinkErrorCode, message: string): void {
    this.errors.push({ at: Date.now(), code, message });
    if (this.errors.length > HISTORY_LENGTH) this.errors.shift();
    this.record('error', `${code}: ${message}`);
    this.emit('error', { code, message });
  }

  private record(event: string, detail: string): void {
    this.history.push({ at: Date.now(), event, detail });
    if (this.history.length > HISTORY_LENGTH) this.history.shift();
  }
}
