/**
 * Keeps one PeerLink per teammate: creates links from the registry's presence, routes signaling
 * and relay frames from the SignalingClient to them, and hands fresh ICE servers on. Links that
 * are up survive a registry outage. A link that is not up (relayed, or still negotiating) whose
 * peer is not at the registry — it left, or has not reconnected yet after a registry restart —
 * waits PEER_RETURN_MS for it with its relay paused, and carries on where it stopped if the peer
 * comes back in the same session; only then is it closed. Closing it at once, as before, left
 * the two ends with different streams: the peer that reconnected later kept its link, the other
 * made a new one, and each dropped what the other sent as duplicates.
 */
import { SIGNAL_TYPES, type PeerInfo, type IceServer, type SignalType } from '../../src-shared/protocol/signaling';
import { Emitter } from './emitter';
import { ChannelRouter, type Channel, type ChannelSpec, type ChannelStats, type LinkBus } from './channels';
import { equalBytes } from '../../src-shared/bytes';
import { iceServerProblem } from '../../src-shared/ice-url';
import type { SignalingClient } from './signaling-client';
import { DEFAULT_LINK_CONFIG, PeerLink, rtcConfiguration, type LinkConfig, type LinkSnapshot } from './link/peer-link';
import { ConnectionPreparer, FirstConnection, SETTLE_MS } from './link/prepared-connection';
import { deriveSignalKey, type SignalKey } from './link/signal-key';
import { createEd25519Signer, verifyPublicIdentity } from '../../src-shared/identity';
import { decodeCertificate, verifyCertificate, type SessionCertificate, type SessionSecrets } from '../../src-shared/session-certificate';

/** Room the registry's `relay` frame needs around a relay payload is accounted in PeerLink. */
const RELAY_HIGH_WATER_BYTES = 1024 * 1024;
/**
 * How long a link that is not up waits for its peer to come back to the registry. Consoles
 * reconnect to a restarted registry with backoff (up to 30 s apart), and a console whose socket
 * died unnoticed finds out within a heartbeat (15 s).
 */
export const PEER_RETURN_MS = 60_000;

type ManagerEvents = {
  change: LinkSnapshot;
  open: { peerId: string };
  /** The peer restarted, or made its link again: messages in flight to its old end are gone. */
  reset: { peerId: string };
  error: { peerId: string; code: string; message: string };
  /** A console whose identity does not hold together (peer_id not its key's, box key unsigned): no link. */
  untrusted: { peerId: string; reason: string };
  /** A console the application did not admit (e.g. a pinned name with a new key): no link until released. */
  held: { peerId: string };
  closed: { peerId: string };
  /** An ICE server that could not be used (the registry's, or one this browser refused): links go on without it. */
  problem: { code: 'ICE_SERVER_REFUSED'; message: string };
};

export interface LinkManagerOptions {
  client: SignalingClient;
  session: SessionSecrets;
  config?: Partial<LinkConfig>;
  createPeerConnection?: (configuration: RTCConfiguration) => RTCPeerConnection;
  /** The user's own ICE servers, used besides the registry's. */
  extraIceServers?: RTCIceServer[];
  /** Decides whether to link to a console whose identity verified (trust on first use). */
  admit?: (peer: PeerInfo) => boolean;
  /**
   * Keep RTCPeerConnections made ahead (default true; prepared-connection.ts). A Node agent turns
   * it off: node-datachannel's prepared offer sometimes loses its ICE transport before the answer
   * comes (docs/PEER-PROTOCOL.md, "Node peers"), and an agent gains little from the saved ms.
   */
  prepareConnections?: boolean;
  /**
   * Begin a link's first connection while its peer is being checked (default true;
   * FirstConnection in prepared-connection.ts). A Node agent turns it off too: there the offer set
   * before the link takes the connection lost its ICE transport in about 1 link of 10, as a
   * prepared one did (tests/unit/agent/engine-in-node.test.ts).
   */
  beginConnectionEarly?: boolean;
}

export class LinkManager extends Emitter<ManagerEvents> implements LinkBus {
  /** Application messages go to the channel that owns their type (channels.ts). */
  private readonly router = new ChannelRouter();
  private readonly links = new Map<string, { link: PeerLink; signingKey: Uint8Array }>();
  /** Frames for peers whose identity is being checked, replayed once the link exists. */
  private readonly waiting = new Map<string, Array<(link: PeerLink) => void>>();
  private readonly sign: (message: Uint8Array) => Promise<Uint8Array>;
  private readonly held = new Map<string, PeerInfo>();
  /** The latest presence of peers whose identity is being checked. */
  private readonly presence = new Map<string, PeerInfo>();
  /** Links whose peer is not at the registry: closed when the timer fires, unless the peer is back. */
  private readonly away = new Map<string, ReturnType<typeof setTimeout>>();
  private seq = 0;
  private projectId = '';
  private localPeerId = '';
  /** The registry's ICE servers (TURN credentials minted for this console) and the user's own. */
  private registryIceServers: RTCIceServer[] = [];
  private extraIceServers: RTCIceServer[];
  private maxFrameBytes = 64 * 1024;
  private config: Partial<LinkConfig>;
  private readonly unsubscribe: Array<() => void> = [];
  /** Connections kept ready, so a newly seen peer gets an offer at once and a newcomer answers at once. */
  private readonly preparer: ConnectionPreparer;
  private readonly createPeerConnection: (configuration: RTCConfiguration) => RTCPeerConnection;
  /** ICE server problems already said (the registry sends its servers again at every TURN renewal). */
  private readonly toldIceProblems = new Set<string>();

  constructor(private readonly options: LinkManagerOptions) {
    super();
    this.config = { ...options.config };
    this.extraIceServers = options.extraIceServers ?? [];
    const make = options.createPeerConnection ?? ((c: RTCConfiguration) => new RTCPeerConnection(c));
    // A server this browser refuses would make every connection throw, and no link would ever try
    // the relay: the connection is made without the servers instead, and the problem said.
    this.createPeerConnection = (configuration) => {
      try {
        return make(configuration);
      } catch (error) {
        if (!configuration.iceServers?.length) throw error;
        this.refusedIceServers(`this browser refused the ICE servers (${(error as Error).message}): links go on without STUN or TURN`);
        return make({ ...configuration, iceServers: [] });
      }
    };
    this.preparer = new ConnectionPreparer(this.createPeerConnection);
    // Before joining: the registry's ICE servers are not known yet, and are set when it is taken.
    if (options.prepareConnections !== false) this.preparer.prepareBare(this.rtcConfiguration(this.extraIceServers));
    this.sign = createEd25519Signer(options.session.signSecretKey);
    const { client } = options;
    this.unsubscribe.push(
      client.on('welcome', (welcome) => {
        const reconnect = this.localPeerId === welcome.peer_id;
        this.localPeerId = welcome.peer_id;
        this.projectId = welcome.project_id;
        this.registryIceServers = this.usableIceServers(welcome.ice_servers);
        this.maxFrameBytes = welcome.limits.max_frame_bytes;
        const present = new Set(welcome.peers.map((p) => p.peer_id));
        // After a registry restart the others reconnect one by one: absent is not gone.
        for (const peerId of this.links.keys()) if (!present.has(peerId)) this.peerAway(peerId);
        for (const peer of welcome.peers) {
          const wasAway = this.away.has(peer.peer_id);
          // A link kept (same session) resumes; one that was away resumes in ensureLink.
          if (this.ensureLink(peer, false) && reconnect && !wasAway) this.links.get(peer.peer_id)?.link.signalingRestored();
        }
        this.prepareConnection(welcome.peers.length ? SETTLE_MS : 0);
      }),
      client.on('state', (state) => {
        if (state.phase === 'connected') return;
        // Refused for good (invite revoked, this identity opened elsewhere…): out of the project, so
        // no link of it carries the project's traffic on.
        if (state.phase === 'rejected') {
          for (const peerId of [...this.links.keys()]) this.drop(peerId);
          return;
        }
        // Relayed links wait for the registry: nothing is lost, and nothing is sent into a closed socket.
        for (const { link } of this.links.values()) link.pauseRelay('the registry connection is down');
      }),
      client.on('peer_joined', (peer) => this.ensureLink(peer, true)),
      client.on('peer_left', ({ peerId, reason }) => {
        this.held.delete(peerId);
        // Removed from the project by the registry (its invite revoked): gone, not away, so even a
        // direct link closes. A registry could send this falsely, but it can refuse anyone anyway.
        if (reason === 'kicked') this.drop(peerId);
        else this.peerAway(peerId);
      }),
      client.on('signal', (frame) => this.deliver(frame.from_peer_id, (link) => link.handleSignal(frame.type, frame.payload))),
      client.on('relay', (frame) => this.deliver(frame.from_peer_id, (link) => link.handleRelay(frame.payload))),
      client.on('error', (error) => {
        const link = error.refPeerId ? this.links.get(error.refPeerId)?.link : undefined;
        if (!link) return;
        // The registry refused a relay frame (peer backlogged, budget used up, rate limit): that link backs off and resends.
        if (error.refType === 'relay') link.relayRefused(error.code, error.message);
        // It dropped a signaling message (rate limit): the link sends its negotiation again, paced, now.
        else if (error.code === 'RATE_LIMITED' && isSignalType(error.refType)) link.signalRefused(error.refType, error.code);
      }),
      client.on('ice_servers', ({ servers }) => {
        this.registryIceServers = this.usableIceServers(servers);
        for (const { link } of this.links.values()) link.updateIceServers(this.iceServers);
        this.prepareConnection();
      }),
    );
  }

  /**
   * Registers an application channel: its messages, from every link, go to its handler only. Its
   * `send` (like `send` below) rejects when there is no link to the peer.
   */
  channel<M extends { t: string }>(spec: ChannelSpec<M>): Channel<M> {
    const unregister = this.router.register(spec);
    return { send: (peerId, message) => this.send(peerId, message), close: unregister };
  }

  /** Messages that no channel owned, or that their channel's schema refused (diagnostics). */
  channelStats(): ChannelStats {
    return this.router.stats();
  }

  /**
   * Sends to one peer; rejects if there is no link to it. A Uint8Array of 64 KiB or more inside the
   * message is read as it goes out, not copied at the call: leave it unchanged until this resolves.
   */
  send(peerId: string, message: unknown): Promise<void> {
    const entry = this.links.get(peerId);
    if (!entry) return Promise.reject(new Error(`no link to ${peerId}`));
    return entry.link.send(message);
  }

  /**
   * Links to a console that was held back, now that the user accepted it: its identity and session
   * certificate are checked again (the link needs the verified session, for the relay) and the
   * application asked again, which now says yes.
   */
  release(peerId: string): void {
    const peer = this.held.get(peerId);
    if (!peer) return;
    this.held.delete(peerId);
    if (!this.links.has(peerId)) this.ensureLink(peer, true);
  }

  /** Diagnostics of every link (see PeerLink.diagnostics). */
  diagnostics(): Promise<Array<Awaited<ReturnType<PeerLink['diagnostics']>>>> {
    return Promise.all([...this.links.values()].map(({ link }) => link.diagnostics()));
  }

  /** Diagnostics and tests: the DataChannel carrying the link to this peer now, if any. */
  dataChannel(peerId: string): RTCDataChannel | undefined {
    return this.links.get(peerId)?.link.dataChannel;
  }

  peerIds(): string[] {
    return [...this.links.keys()];
  }

  snapshot(peerId: string): LinkSnapshot | undefined {
    return this.links.get(peerId)?.link.snapshot();
  }

  snapshots(): LinkSnapshot[] {
    return [...this.links.values()].map(({ link }) => link.snapshot());
  }

  /** Diagnostics: force one link onto the registry relay, or let it go direct again. */
  forceRelay(peerId: string, on: boolean): void {
    this.links.get(peerId)?.link.forceRelay(on);
  }

  /**
   * The user's link settings changed. Nothing is torn down: the relay fallback time applies from
   * the links' next negotiation; a new ICE transport policy or new STUN/TURN servers reach every
   * link's connection by setConfiguration and an ICE restart (PeerLink.reconfigure), so a link that
   * is up keeps its DataChannel and stream while ICE finds the new paths.
   */
  reconfigure(settings: { fallbackAfterMs: number; iceTransportPolicy: RTCIceTransportPolicy; extraIceServers: RTCIceServer[] }): void {
    this.config = { ...this.config, fallbackAfterMs: settings.fallbackAfterMs, iceTransportPolicy: settings.iceTransportPolicy };
    this.extraIceServers = settings.extraIceServers;
    const change = { fallbackAfterMs: settings.fallbackAfterMs, iceTransportPolicy: settings.iceTransportPolicy, iceServers: this.iceServers };
    for (const { link } of this.links.values()) link.reconfigure(change);
    if (this.localPeerId) this.prepareConnection(); // replaces a connection prepared with the old settings
  }

  /** Diagnostics and tests: forbid or allow direct paths on every link, now and later. */
  setBlockDirect(block: boolean): void {
    this.config = { ...this.config, blockDirect: block };
    for (const { link } of this.links.values()) link.setBlockDirect(block);
    this.prepareConnection();
  }

  close(): void {
    for (const timer of this.away.values()) clearTimeout(timer);
    this.away.clear();
    this.preparer.close();
    this.waiting.clear();
    this.held.clear();
    this.presence.clear();
    for (const off of this.unsubscribe) off();
    for (const peerId of [...this.links.keys()]) this.drop(peerId);
    this.removeAllListeners();
  }

  private deliver(peerId: string, action: (link: PeerLink) => void): void {
    const link = this.links.get(peerId)?.link;
    if (link) {
      // The registry routes only from consoles it holds: the peer is there (presence may still be on its way).
      if (this.clearAway(peerId)) link.resumeRelay('the peer is back at the registry');
      return action(link);
    }
    this.waiting.get(peerId)?.push(action);
  }

  /**
   * The peer is not at the registry. A link that is up directly carries on; any other pauses its
   * relay and waits PEER_RETURN_MS for the peer (checked again then: a direct path may fail meanwhile).
   */
  private peerAway(peerId: string): void {
    const entry = this.links.get(peerId);
    if (!entry || this.away.has(peerId)) return;
    const state = entry.link.state;
    if (state !== 'direct' && state !== 'turn') entry.link.pauseRelay('the peer is not at the registry');
    this.away.set(
      peerId,
      setTimeout(() => {
        this.away.delete(peerId);
        if (this.links.get(peerId) !== entry) return;
        const now = entry.link.state;
        if (now === 'direct' || now === 'turn') this.peerAway(peerId);
        else this.drop(peerId);
      }, PEER_RETURN_MS),
    );
  }

  private clearAway(peerId: string): boolean {
    const timer = this.away.get(peerId);
    if (timer === undefined) return false;
    clearTimeout(timer);
    this.away.delete(peerId);
    return true;
  }

  /**
   * Links to a peer once its identity holds together: its peer_id is its key's and its box key is
   * signed by that key. A registry could accept anything; peers check for themselves.
   * `joined`: the peer arrived after us (peer_joined), so we offer first: our connection is
   * prepared, and the newcomer is busy joining (it learned of us from its welcome and waits).
   */
  /** True when the existing link to this peer is kept (the same session of it). */
  private ensureLink(peer: PeerInfo, joined: boolean): boolean {
    const existing = this.links.get(peer.peer_id);
    const certificate = peer.session_cert ? decodeCertificate(peer.session_cert) : undefined;
    const known = existing?.link.remoteSession;
    // The same console, in another session (it restarted): its end of the link is new, so is ours.
    const restarted = Boolean(certificate && known && !equalBytes(certificate.signKey, known.signKey) && certificate.startedAt > known.startedAt);
    if (existing && equalBytes(existing.signingKey, peer.signing_key) && !restarted) {
      // Its presence again (a rename, a reconnect): the application decides again, since a name is
      // what trust on first use goes by; a rename to a pinned teammate's name unlinks it until the
      // user decides (released like any held console).
      if (this.options.admit && !this.options.admit(peer)) {
        this.drop(peer.peer_id);
        this.held.set(peer.peer_id, peer);
        this.emit('held', { peerId: peer.peer_id });
        return false;
      }
      // Back at the registry in the same session: the link carries on where it stopped.
      if (this.clearAway(peer.peer_id)) existing.link.signalingRestored();
      return true;
    }
    this.presence.set(peer.peer_id, peer);
    if (this.waiting.has(peer.peer_id)) return false;
    this.waiting.set(peer.peer_id, []);
    // The presence certificate is checked now, and the signaling key shared with that session
    // derived beside the check: the link's signaling is then MAC'd both ways, at no cost on the
    // way to the first open (signal-key.ts).
    const certificateCheck: Promise<{ certificate: SessionCertificate; signalKey?: SignalKey } | undefined> = certificate
      ? Promise.all([verifyCertificate(certificate, peer.signing_key), deriveSignalKey(this.options.session, certificate).catch(() => undefined)]).then(([ok, signalKey]) =>
          // a certificate that does not verify is ignored: the signaling path checks certificates itself
          ok ? { certificate, ...(signalKey ? { signalKey } : {}) } : undefined,
        )
      : Promise.resolve(undefined);
    const checks = Promise.all([
      verifyPublicIdentity({ peerId: peer.peer_id, signingPublicKey: peer.signing_key, boxPublicKey: peer.box_key, boxKeySignature: peer.box_key_sig }),
      certificateCheck,
    ]);
    // The link's connection is begun while WebCrypto checks (prepared-connection.ts,
    // FirstConnection); the link takes it once they pass.
    const first = this.beginConnection(joined);
    void checks.then(([valid, verifiedSession]) => {
      const queued = this.waiting.get(peer.peer_id);
      this.waiting.delete(peer.peer_id);
      if (!queued) return first?.close(); // the manager closed meanwhile
      if (!valid) {
        first?.close();
        this.emit('untrusted', { peerId: peer.peer_id, reason: 'its peer_id is not derived from its key, or its box key is not signed by it (possible tampering registry)' });
        return;
      }
      const current = this.links.get(peer.peer_id);
      if (current && restarted && !verifiedSession && equalBytes(current.signingKey, peer.signing_key)) {
        // A new certificate that does not verify restarts nothing (the signaling path checks its own).
        first?.close();
        if (this.clearAway(peer.peer_id)) current.link.signalingRestored();
        for (const action of queued) action(current.link);
        return;
      }
      if (current) this.drop(peer.peer_id);
      // Its latest presence (a rename may have come while its identity was being checked; same key).
      const latest = this.presence.get(peer.peer_id) ?? peer;
      this.presence.delete(peer.peer_id);
      if (this.options.admit && !this.options.admit(latest)) {
        first?.close();
        this.held.set(peer.peer_id, latest);
        this.emit('held', { peerId: peer.peer_id });
        return;
      }
      this.held.delete(peer.peer_id);
      const link = this.createLink(peer, joined, verifiedSession, first);
      first?.close(); // if the link did not take it
      for (const action of queued) action(link);
    });
    return false;
  }

  /**
   * The first connection of a link about to be made (prepared-connection.ts): one prepared ahead
   * if there is one, else made now. None for a link that offers while direct paths are blocked
   * (it offers without candidates itself).
   */
  private beginConnection(offers: boolean): FirstConnection | undefined {
    if (offers && this.config.blockDirect) return undefined;
    if (this.options.beginConnectionEarly === false) return undefined;
    const configuration = this.rtcConfiguration(this.iceServers);
    const prepared = this.options.prepareConnections === false ? undefined : offers ? this.preparer.take(configuration) : this.preparer.takeBare(configuration);
    return FirstConnection.begin(this.createPeerConnection, configuration, offers, prepared);
  }

  private createLink(peer: PeerInfo, offersFirst: boolean, remoteSession?: { certificate: SessionCertificate; signalKey?: SignalKey }, first?: FirstConnection): PeerLink {
    const { client } = this.options;
    const peerId = peer.peer_id;
    const link = new PeerLink({
      localPeerId: this.localPeerId,
      remotePeerId: peerId,
      remoteSigningKey: peer.signing_key,
      projectId: this.projectId,
      session: this.options.session,
      sign: this.sign,
      nextSeq: () => ++this.seq,
      ...(remoteSession ? { remoteCertificate: remoteSession.certificate } : {}),
      ...(remoteSession?.signalKey ? { remoteSignalKey: remoteSession.signalKey } : {}),
      config: { ...this.config, iceServers: this.iceServers },
      createPeerConnection: this.createPeerConnection,
      offersFirst,
      ...(first ? { preparer: first } : {}),
      port: {
        sendSignal: (type, payload) => client.sendSignal(type, peerId, payload),
        sendRelay: (payload) => client.sendRelay(peerId, payload),
        relayWritable: () => client.bufferedAmount < RELAY_HIGH_WATER_BYTES,
        relayMaxFrameBytes: () => this.maxFrameBytes,
      },
    });
    // The manager's listeners (the GUI's session store, the agent) map the whole snapshot to their views.
    link.on('change', () => this.emit('change', link.snapshot()));
    link.on('open', () => this.emit('open', { peerId }));
    link.on('message', (message) => this.router.dispatch(peerId, message));
    link.on('reset', () => this.emit('reset', { peerId }));
    link.on('error', (error) => this.emit('error', { peerId, ...error }));
    this.links.set(peerId, { link, signingKey: peer.signing_key });
    link.start();
    return link;
  }

  /** The registry's ICE servers that a browser takes; each one left out is said once. */
  private usableIceServers(servers: IceServer[]): RTCIceServer[] {
    return toRtcIceServers(
      servers.filter((server) => {
        const problem = iceServerProblem(server);
        if (problem) this.refusedIceServers(`the registry’s ICE server was left out: ${problem}`);
        return !problem;
      }),
    );
  }

  private refusedIceServers(message: string): void {
    if (this.toldIceProblems.has(message)) return;
    this.toldIceProblems.add(message);
    this.emit('problem', { code: 'ICE_SERVER_REFUSED', message });
  }

  private get iceServers(): RTCIceServer[] {
    return [...this.registryIceServers, ...this.extraIceServers];
  }

  /** Keeps a connection prepared for the links' configuration (none while direct paths are blocked). */
  private prepareConnection(delayMs = 0): void {
    if (this.config.blockDirect || this.options.prepareConnections === false) return this.preparer.discard();
    this.preparer.prepare(this.rtcConfiguration(this.iceServers), delayMs);
  }

  /** The RTCPeerConnection configuration the links get (PeerLink merges the same defaults). */
  private rtcConfiguration(iceServers: RTCIceServer[]): RTCConfiguration {
    return rtcConfiguration({ ...DEFAULT_LINK_CONFIG, ...this.config, iceServers });
  }

  private drop(peerId: string): void {
    this.clearAway(peerId);
    const entry = this.links.get(peerId);
    if (!entry) return;
    this.links.delete(peerId);
    entry.link.close();
    this.emit('closed', { peerId });
  }
}

function isSignalType(type: string | undefined): type is SignalType {
  return (SIGNAL_TYPES as readonly (string | undefined)[]).includes(type);
}

function toRtcIceServers(servers: IceServer[]): RTCIceServer[] {
  return servers.map((s) => ({ urls: s.urls, ...(s.username ? { username: s.username } : {}), ...(s.credential ? { credential: s.credential } : {}) }));
}

