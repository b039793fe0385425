/**
 * The composition root: one console in one project, assembled as the product runs it — the
 * registry session and links (console-session.ts), trust on first use (trust-book.ts), the
 * project's workstream over those links, the registry's relay usage reports and the
 * `link-states` messages every console shares so that each can draw the whole project.
 *
 * The GUI's stores, the browser test harness and the headless agent (src-agent/) all open a
 * console through openConsole, so what the engine tests run is what the product runs. Stores only
 * map the state reported here to views. Nothing here imports Vue, Pinia or a store (lint enforces it).
 */
import { z } from '../../src-shared/zod';
import type { ParsedInvite } from '../../src-shared/invite';
import type { HostApi, IdentityInfo, Settings, TrustRecord } from '../../src-shared/ipc';
import type { ClientInfo, PeerInfo } from '../../src-shared/protocol/signaling';
import { createSession } from '../../src-shared/session-certificate';
import type { BackoffPolicy } from './backoff';
import type { Channel } from './channels';
import { createConsoleSession, type ConsoleSession } from './console-session';
import { Emitter } from './emitter';
import type { LinkConfig, LinkSnapshot } from './link/peer-link';
import { TrustBook, type TrustStatus } from './trust-book';
import { openWorkstream, type Workstream } from './workstream/workstream';
import type { WorkstreamStore } from './workstream/workstream-store';
import { LinkStateTeller, MAX_SHARED_LINKS, applyLinkStateChanges } from './link-state-telling';

/**
 * What a console needs from its host (the desktop app's main process, the web host, or a Node
 * agent): the identity's public parts and signatures made with its secret key, which never
 * leaves the host. HostApi provides it (consoleHostOf); a Node agent implements it directly.
 */
export interface ConsoleHost {
  identity: { peerId: string; signingPublicKey: Uint8Array; boxPublicKey: Uint8Array; boxKeySignature: Uint8Array };
  /** Signs a registry's challenge nonce (signedMessage 'registryAuth'). */
  signChallenge(nonce: Uint8Array): Promise<Uint8Array>;
  /**
   * Signs an early hello's time and salt (signedMessage 'registryHello', early-hello.ts), so the
   * registry can welcome the console without a challenge first. Optional: without it, one registry
   * turn more per connection.
   */
  signEarlyHello?(payload: Uint8Array): Promise<Uint8Array>;
  /** Signs a session certificate body (signedMessage 'sessionKey'). */
  certifySession(body: Uint8Array): Promise<Uint8Array>;
  /** Signs a workstream entry body (signedMessage 'workstreamEntry'). */
  signEntry(body: Uint8Array): Promise<Uint8Array>;
  /**
   * Where pinned keys live across runs (trust on first use). A host without it links with every
   * console the registry admits (the test harness); with it, a known name with a new key is held.
   */
  loadTrust?(): Promise<TrustRecord[]>;
  saveTrust?(records: TrustRecord[]): Promise<void>;
}

/** The ConsoleHost of a GUI host (preload bridge or web host). */
export function consoleHostOf(api: HostApi, identity: IdentityInfo): ConsoleHost {
  return {
    identity,
    signChallenge: (nonce) => api.signChallenge(nonce),
    signEarlyHello: (payload) => api.signEarlyHello(payload),
    certifySession: (body) => api.certifySession(body),
    signEntry: (body) => api.signEntry(body),
    loadTrust: () => api.loadTrust(),
    saveTrust: (records) => api.saveTrust(records),
  };
}

/** The host's trust book, loaded (undefined if the host keeps none). A damaged store starts empty. */
export async function openTrustBook(host: Pick<ConsoleHost, 'loadTrust' | 'saveTrust'>): Promise<TrustBook | undefined> {
  const { loadTrust, saveTrust } = host;
  if (!loadTrust || !saveTrust) return undefined;
  const book = new TrustBook({ load: () => loadTrust.call(host), save: (records) => saveTrust.call(host, records) });
  await book.load().catch(() => undefined);
  return book;
}

export interface OpenConsoleOptions {
  invite: ParsedInvite;
  displayName: string;
  /** What presence tells the project this peer is (console or agent, software, version). */
  client?: ClientInfo;
  /** The user's link settings (Settings['links']). */
  links?: Settings['links'];
  /** The largest file this console downloads (a function: the setting may change while running). */
  maxFileBytes: () => number;
  /** This session's start (strictly newer for every join; see session-certificate.ts); now when absent. */
  sessionStart?: number;
  /** The trust book to use (the GUI keeps one across joins); opened from the host when absent. */
  trust?: TrustBook;
  /** Replaces trust on first use: link only with the consoles this admits (tests). */
  admit?: (peer: PeerInfo) => boolean;
  /** Where the workstream is kept (IndexedDB when absent; a Node agent brings its own). */
  store?: WorkstreamStore;
  /** Overrides of the link's timings and behaviour (tests, diagnostics), over `links`. */
  linkConfig?: Partial<LinkConfig>;
  backoff?: BackoffPolicy;
  /** Hosts without the browser's globals (a Node agent) bring their own WebSocket and RTCPeerConnection. */
  createSocket?: (url: string, protocols: string[]) => WebSocket;
  createPeerConnection?: (configuration: RTCConfiguration) => RTCPeerConnection;
  /** See LinkManagerOptions.prepareConnections (a Node agent turns it off). */
  prepareConnections?: boolean;
  /** See LinkManagerOptions.beginConnectionEarly (a Node agent turns it off). */
  beginConnectionEarly?: boolean;
}

/** One console's view of one of its links, as it tells its peers (for the project graph). */
export interface SharedLinkState {
  peerId: string;
  state: string;
  path?: string;
  rttMs?: number;
  /** The code of the link's latest error, while it is recent: the other end shows it too. */
  error?: string;
}

/** How long a link's error is told to the other end (in the link states it shares). */
const SHARED_ERROR_MS = 60_000;

/** The registry's relay accounting for the pair with one peer, as last reported. */
export interface RelayUsage {
  pairBytes: number;
  pairBytesPerSecond: number;
  projectBytesToday: number;
  pairBudgetPerSecond: number;
  projectBudgetPerDay: number;
  at: number;
}

/** A trust decision about a peer, made when it would link (or when a person decides). */
export type TrustDecision =
  | { peerId: string; trust: 'ok'; verified: boolean }
  | { peerId: string; trust: 'conflict' | 'rejected'; status: TrustStatus };

export interface ConsoleEvents extends Record<string, unknown> {
  trust: TrustDecision;
  /** Every pair's relay usage (empty after a registry (re)connect: it counts afresh). */
  'relay-usage': Record<string, RelayUsage>;
  /** A peer told how its links run. */
  'link-states': { peerId: string; links: SharedLinkState[] };
}

const sharedLinkSchema = z.object({ peerId: z.string().max(64), state: z.string().max(16), path: z.string().max(32).optional(), rttMs: z.number().nonnegative().optional(), error: z.string().max(32).optional() });
const sharedLinksSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('link-states'), links: z.array(sharedLinkSchema).max(MAX_SHARED_LINKS), changes: z.literal(true).optional() }),
  z.object({ t: z.literal('link-states-changed'), links: z.array(sharedLinkSchema).max(MAX_SHARED_LINKS), gone: z.array(z.string().max(64)).max(MAX_SHARED_LINKS) }),
]);

const LINK_SHARE_INTERVAL_MS = 2000;
const SHARED_STATES = new Set(['direct', 'turn', 'relay']);

/** How a console describes its links to its peers. */
export function sharedLinkStates(links: Array<Pick<LinkSnapshot, 'peerId' | 'state' | 'path' | 'rttMs'> & { errors?: LinkSnapshot['errors'] }>, now = Date.now()): SharedLinkState[] {
  return links.map((l) => {
    const error = l.errors?.at(-1);
    return {
      peerId: l.peerId,
      state: l.state,
      ...(l.path ? { path: l.path.kind === 'turn' && l.path.protocol ? `turn-${l.path.protocol}` : l.path.kind } : {}),
      ...(l.rttMs !== undefined ? { rttMs: Math.round(l.rttMs) } : {}),
      ...(error && now - error.at < SHARED_ERROR_MS ? { error: error.code } : {}),
    };
  });
}

export class ConsoleEngine extends Emitter<ConsoleEvents> {
  readonly client: ConsoleSession['client'];
  readonly links: ConsoleSession['links'];
  /** Keys of peers seen this session, for safety codes and trust decisions. */
  private readonly peerKeys = new Map<string, PeerInfo>();
  private relayUsageByPeer: Record<string, RelayUsage> = {};
  private readonly linkStatesByPeer: Record<string, SharedLinkState[]> = {};
  private shareTimer: ReturnType<typeof setInterval> | undefined;
  private readonly linkStatesTeller = new LinkStateTeller();
  private closed = false;
  private readonly linkStates: Channel<z.infer<typeof sharedLinksSchema>>;
  /** Set by openConsole (the workstream opens after the session, on its links). */
  workstream: Workstream | undefined;
  /** Why the workstream could not be opened (the links still run). */
  workstreamError: string | undefined;

  constructor(
    readonly session: ConsoleSession,
    readonly trust: TrustBook | undefined,
    private readonly admitOverride: ((peer: PeerInfo) => boolean) | undefined,
  ) {
    super();
    this.client = session.client;
    this.links = session.links;
    const c = this.client;
    c.on('welcome', (welcome) => {
      for (const p of welcome.peers) this.peerKeys.set(p.peer_id, p);
      // The registry (perhaps restarted) counts relay traffic afresh, and tells us within a second of any.
      this.relayUsageByPeer = {};
      this.emit('relay-usage', this.relayUsageByPeer);
    });
    c.on('peer_joined', (peer) => this.peerKeys.set(peer.peer_id, peer));
    c.on('relay_usage', (u) => {
      this.relayUsageByPeer = {
        ...this.relayUsageByPeer,
        [u.peer_id]: {
          pairBytes: u.pair_bytes,
          pairBytesPerSecond: u.pair_bytes_per_s,
          projectBytesToday: u.project_bytes_today,
          pairBudgetPerSecond: u.pair_budget_bytes_per_s,
          projectBudgetPerDay: u.project_budget_bytes_per_day,
          at: Date.now(),
        },
      };
      this.emit('relay-usage', this.relayUsageByPeer);
    });
    // A link opened again (or closed) with a peer: that peer is told afresh at the next round.
    for (const event of ['open', 'closed', 'reset'] as const) this.links.on(event, ({ peerId }) => this.linkStatesTeller.forget(peerId));
    this.linkStates = this.links.channel({
      name: 'link-states',
      types: ['link-states', 'link-states-changed'],
      schema: sharedLinksSchema,
      handle: (peerId, message) => {
        if (message.t === 'link-states') this.linkStatesTeller.heard(peerId, message.changes === true);
        const links = message.t === 'link-states' ? message.links : applyLinkStateChanges(this.linkStatesByPeer[peerId], message);
        if (!links) return; // more links than any console has: ignored
        this.linkStatesByPeer[peerId] = links;
        this.emit('link-states', { peerId, links });
      },
    });
  }

  /** Trust on first use: pin new consoles; hold back a known name that comes with a new key. */
  admit(peer: PeerInfo): boolean {
    this.peerKeys.set(peer.peer_id, peer);
    if (this.admitOverride) return this.admitOverride(peer);
    const book = this.trust;
    if (!book) return true;
    const status = book.assess(peer.peer_id, peer.display_name, peer.signing_key);
    if (status.kind === 'conflict' || status.kind === 'rejected') {
      this.emit('trust', { peerId: peer.peer_id, trust: status.kind, status });
      return false;
    }
    book.pin(peer.peer_id, peer.display_name, peer.signing_key);
    this.emit('trust', { peerId: peer.peer_id, trust: 'ok', verified: status.kind === 'known' && status.verified });
    return true;
  }

  /** The peer's presence as last seen (its keys, for safety codes and trust decisions). */
  peer(peerId: string): PeerInfo | undefined {
    return this.peerKeys.get(peerId);
  }

  /** The trust a peer would get now, without pinning it (for the peer list). */
  assess(peerId: string): TrustStatus | undefined {
    const peer = this.peerKeys.get(peerId);
    return peer && this.trust ? this.trust.assess(peerId, peer.display_name, peer.signing_key) : undefined;
  }

  /** A person confirmed a held peer's new key (e.g. a reinstall): pin it and link. */
  accept(peerId: string): boolean {
    const peer = this.peerKeys.get(peerId);
    if (!peer || !this.trust) return false;
    this.trust.accept(peerId, peer.display_name, peer.signing_key);
    this.emit('trust', { peerId, trust: 'ok', verified: this.trust.get(peerId)?.verified ?? false });
    this.links.release(peerId);
    return true;
  }

  /** A person refused a held peer: it stays unlinked, also in later sessions. */
  reject(peerId: string): boolean {
    const peer = this.peerKeys.get(peerId);
    if (!peer || !this.trust) return false;
    this.trust.reject(peerId, peer.display_name, peer.signing_key);
    this.emit('trust', { peerId, trust: 'rejected', status: this.trust.assess(peerId, peer.display_name, peer.signing_key) });
    return true;
  }

  relayUsage(): Record<string, RelayUsage> {
    return this.relayUsageByPeer;
  }

  /** Every peer's links as it last told us: peerId → its links. */
  projectLinks(): Record<string, SharedLinkState[]> {
    return { ...this.linkStatesByPeer };
  }

  ownLinkStates(): SharedLinkState[] {
    return sharedLinkStates(this.links.snapshots());
  }

  /** Connects (subscribe to events first). */
  start(): void {
    if (this.closed) return;
    // Every console tells the others how its links run, so each can draw the whole project.
    clearInterval(this.shareTimer);
    this.shareTimer = setInterval(() => this.shareLinkStates(), LINK_SHARE_INTERVAL_MS);
    this.session.start();
  }

  /** Leaves: links, registry connection and workstream closed (what the store holds stays). */
  close(): void {
    this.closed = true;
    clearInterval(this.shareTimer);
    this.workstream?.close();
    this.session.stop();
  }

  /** Every 2 s, to each linked peer, what it has not been told of these states (link-state-telling.ts). */
  private shareLinkStates(): void {
    const snapshots = this.links.snapshots();
    const states = sharedLinkStates(snapshots);
    const now = Date.now();
    for (const s of snapshots) {
      const message = SHARED_STATES.has(s.state) ? this.linkStatesTeller.message(s.peerId, states, now) : undefined;
      if (message) void this.linkStates.send(s.peerId, message).catch(() => this.linkStatesTeller.forget(s.peerId));
    }
  }
}

/**
 * Opens a console: session keys certified by the host, the registry session and links, trust on
 * first use, and the project's workstream on those links. Not connected until `start()`, so the
 * caller can subscribe first. If the workstream cannot be opened the links still run, and
 * `workstreamError` says why.
 */
export async function openConsole(host: ConsoleHost, options: OpenConsoleOptions): Promise<ConsoleEngine> {
  const trust = options.trust ?? (options.admit ? undefined : await openTrustBook(host));
  const session = await createSession((body) => host.certifySession(body), options.sessionStart ?? Date.now());
  // The links ask the console what to admit; they start only after it exists (start()).
  const holder: { engine?: ConsoleEngine } = {};
  const linkSettings = options.links;
  const started = await createConsoleSession({
    invite: options.invite,
    displayName: options.displayName,
    ...(options.client ? { client: options.client } : {}),
    identity: host.identity,
    signChallenge: (nonce) => host.signChallenge(nonce),
    ...(host.signEarlyHello ? { signEarlyHello: (payload: Uint8Array) => host.signEarlyHello!(payload) } : {}),
    certifySession: (body) => host.certifySession(body),
    session,
    admit: (peer) => holder.engine?.admit(peer) ?? false,
    linkConfig: { ...(linkSettings ? { fallbackAfterMs: linkSettings.fallbackAfterMs, iceTransportPolicy: linkSettings.iceTransportPolicy } : {}), ...options.linkConfig },
    ...(linkSettings ? { extraIceServers: linkSettings.iceServers } : {}),
    ...(options.backoff ? { backoff: options.backoff } : {}),
    ...(options.createSocket ? { createSocket: options.createSocket } : {}),
    ...(options.createPeerConnection ? { createPeerConnection: options.createPeerConnection } : {}),
    ...(options.prepareConnections === false ? { prepareConnections: false } : {}),
    ...(options.beginConnectionEarly === false ? { beginConnectionEarly: false } : {}),
  });
  const opened = (holder.engine = new ConsoleEngine(started, trust, options.admit));
  try {
    // The project's workstream replicates over these links (subscribed before they start).
    opened.workstream = await openWorkstream({
      project: options.invite.claims.project,
      author: host.identity,
      signEntry: (b) => host.signEntry(b),
      links: started.links,
      maxFileBytes: options.maxFileBytes,
      ...(options.store ? { store: options.store } : {}),
    });
  } catch (e) {
    opened.workstreamError = (e as Error).message;
  }
  return opened;
}
