/**
 * One WebSocket connection's life: challenge → hello (invite + key proof) → member of a project,
 * routing signaling frames by to_peer_id. A hello may also come with the upgrade (early-hello.ts):
 * then there is no challenge, and the console is welcomed in the upgrade's turn. Every refusal is
 * an `error` frame with a documented code; refusals that end the connection close it with the
 * code's close code.
 *
 * Longer than ~450 lines on purpose: it is one connection's state machine (its `Phase`), and each
 * frame type's handling reads and changes that connection's state (phase, membership, rate
 * budgets, heartbeat); the parts that are not (invites, the directory, relay accounting, the
 * cluster) are modules of their own.
 */
import type { Socket } from 'node:net';
import type { WebSocket, RawData } from 'ws';
import type { Logger } from 'pino';
import { encodeFrameTransient, decodeClientFrame, forwardPrefix, forwardedSignalLength, writeForwardedSignal, type DecodeResult } from '../../src-shared/protocol/codec';
import { EARLY_HELLO_WINDOW_MS, earlyHelloPayload } from '../../src-shared/protocol/early-hello';
import { toHex } from '../../src-shared/bytes';
import { binaryMessage, bodyLength, bodyOf } from './ws-frame';
import { packKeys, unpackKeys } from './member-keys';
import { ERRORS, type ErrorCode } from '../../src-shared/protocol/errors';
import {
  PROTOCOL_VERSION,
  SIGNAL_TYPES,
  type ClientFrame,
  type ClientInfo,
  type EarlyHelloFrame,
  type HelloFrame,
  type IceServer,
  type LeaveReason,
  type PeerInfo,
  type ServerFrame,
} from '../../src-shared/protocol/signaling';
import { derivePeerId, signedMessage } from '../../src-shared/identity';
import { ed25519VerifyInline } from './ed25519-inline';
import type { InviteAuthority } from './invites';
import type { Member, ProjectDirectory } from './projects';
import type { RegistryMetrics } from './metrics';
import { TokenBucket } from '../../src-shared/token-bucket';
import { refusalReason, type RelayAccounting, type RelayUsage } from './relay-accounting';
import type { Cluster } from './cluster/cluster';
import type { RecentDepartures } from './departures';
import type { OnceWithin } from './once-within';

export interface RegistryLimits {
  maxFrameBytes: number;
  framesPerSecond: number;
  burst: number;
  /** Rate-limited frames tolerated before the connection is closed (FLOOD). */
  floodTolerance: number;
  /** Malformed frames tolerated from an authenticated console before it is closed. */
  badFrameTolerance: number;
  authTimeoutMs: number;
  heartbeatMs: number;
  maxPeersPerProject: number;
  /** Queued bytes towards a console above which routed frames to it are dropped. */
  maxQueuedBytes: number;
  /** Relay frames have their own frame budget (their bytes are limited by the relay budget). */
  relayFramesPerSecond: number;
  /** An HTTP request or WebSocket upgrade must arrive in full within it (a silent connection too). */
  requestTimeoutMs: number;
  /** TCP connections not (yet) a welcomed console, in total and per remote address (IPv6: per /64). */
  maxUnauthenticated: number;
  maxUnauthenticatedPerAddress: number;
}

/**
 * What all connections share (one object per registry, not per connection: at 10,000 connections
 * every object and closure kept per connection shows in the registry's memory).
 */
export interface ConnectionContext {
  limits: RegistryLimits;
  invites: InviteAuthority;
  directory: ProjectDirectory;
  metrics: RegistryMetrics;
  /** The registry's logger; each line names its connection with fields (LogFields). */
  logger: Logger;
  now: () => number;
  /** Called once per connection, when its console is welcomed: from then on it no longer counts as unauthenticated. */
  welcomed?: (socket: Socket) => void;
  iceServersFor: (peerId: string) => { servers: IceServer[]; expiresAt: number };
  relay: RelayAccounting;
  departures: RecentDepartures;
  /** Other registry instances sharing the project space (`--redis`); undefined for one process. */
  cluster?: Cluster;
  /** Called when a connection's socket has closed (one shared function, not a listener per connection). */
  closed?: (ws: WebSocket) => void;
  /** The early hellos accepted lately: each is accepted once (remembered 2 × EARLY_HELLO_WINDOW_MS). */
  earlyHellos: OnceWithin;
}

/**
 * Who a log line is about: the client's address, and once welcomed its project and peer_id. Passed
 * with each line rather than bound in a pino child logger per connection, which cost ~1 KiB per
 * connection (its bindings string, and the prototype and hidden classes V8 makes for each child).
 */
export interface LogFields {
  addr: string;
  via?: string;
  project?: string;
  peer_id?: string;
}

type Phase = 'awaiting-hello' | 'authenticating' | 'member' | 'closed';

/**
 * How long a refused connection may take to answer the close handshake before it is cut. `ws`
 * waits 30 s for it, which let a silent client hold a socket three times the auth deadline.
 */
export const CLOSE_GRACE_MS = 2000;

/**
 * `socket`: the connection's TCP socket, as Node's HTTP 'upgrade' event handed it over (ws writes
 * to the same one): writes caused by one read are corked together (corkUntilTick). `ws` itself has
 * no public cork().
 */
export function handleConnection(ws: WebSocket, socket: Socket, client: LogFields, ctx: ConnectionContext, early?: DecodeResult<EarlyHelloFrame>): { heartbeat(): void } {
  return new Connection(ws, socket, client, ctx, early);
}

/**
 * A class, not a closure over the connection's state: its methods are shared by all connections,
 * where ~20 inner functions cost ~1.5 KiB per connection (a function object each and their context).
 */
class Connection {
  /** What the hello signs: the challenge's nonce, or the early hello's time and salt. Needed until the hello is checked, then dropped. */
  private nonce: Uint8Array | undefined;
  /** The hello being checked came with the upgrade (its nonce is the console's, claimed once; signed as `registryHello`). */
  private early = false;
  private readonly bucket: TokenBucket;
  /** Made at the first relay frame: most consoles never relay, and a bucket costs ~100 bytes. */
  private relayBucket: TokenBucket | undefined;
  private authTimer: ReturnType<typeof setTimeout> | undefined;
  private iceRefresh: ReturnType<typeof setTimeout> | undefined;
  private phase: Phase = 'awaiting-hello';
  private member: Membership | undefined;
  private project = '';
  private floodStrikes = 0;
  private badFrames = 0;
  private lastRateLimitNotice = -Infinity;
  private alive = true;
  private leaveReason: LeaveReason = 'closed';
  /** This member's forwardPrefix (its from_peer_id), for the signals it sends. */
  private signalPrefix: string | undefined;

  constructor(
    readonly ws: WebSocket,
    private readonly socket: Socket,
    private readonly client: LogFields,
    private readonly ctx: ConnectionContext,
    early: DecodeResult<EarlyHelloFrame> | undefined,
  ) {
    this.bucket = new TokenBucket(this.limits.framesPerSecond, this.limits.burst, ctx.now);
    this.metrics.connections.inc();
    this.authTimer = setTimeout(() => {
      if (this.phase === 'awaiting-hello' || this.phase === 'authenticating') this.refuse('AUTH_TIMEOUT', ERRORS.AUTH_TIMEOUT.text);
    }, this.limits.authTimeoutMs);
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('close', () => this.onClose());
    ws.on('error', (error) => this.logger.warn({ ...this.who, err: error.message }, 'socket error'));
    if (early) this.earlyHello(early);
    else this.challenge();
  }

  private challenge(): void {
    this.phase = 'awaiting-hello';
    this.early = false;
    this.nonce = crypto.getRandomValues(new Uint8Array(32));
    this.send({ type: 'challenge', protocol: PROTOCOL_VERSION, nonce: this.nonce });
  }

  /**
   * A hello that came with the upgrade. Malformed: refused as a malformed hello would be. Made
   * too far from this registry's time: the challenge instead (a console with a skewed clock is
   * admitted the ordinary way). Otherwise checked as a hello, over its own time and salt (claimed
   * once, after its signatures verify: authenticate).
   */
  private earlyHello(early: DecodeResult<EarlyHelloFrame>): void {
    if (!early.ok) return this.refuse('AUTH_REQUIRED', `the hello sent with the upgrade (Sec-WebSocket-Protocol) is not valid (${early.message})`, 'hello');
    const hello = early.frame;
    if (Math.abs(hello.early_at - this.now()) > EARLY_HELLO_WINDOW_MS) {
      this.metrics.earlyHellos.inc({ result: 'stale' });
      return this.challenge();
    }
    this.nonce = earlyHelloPayload(hello.early_at, hello.early_salt);
    this.early = true;
    this.beginHello(hello);
  }

  /** An early hello (its key, time and salt) accepted once: here, and with `--redis` across the instances. */
  private claimEarlyHello(signingKey: Uint8Array, nonce: Uint8Array): boolean | Promise<boolean> {
    const key = toHex(signingKey) + toHex(nonce);
    if (!this.ctx.earlyHellos.claim(key)) return false;
    return this.ctx.cluster?.claimOnce(`early-hello:${key}`, 2 * EARLY_HELLO_WINDOW_MS) ?? true;
  }

  /**
   * Who log lines are about, made when a line is written (rarely): an object kept per member cost
   * ~200 bytes, as V8 gave each its own hidden class.
   */
  private get who(): LogFields {
    return this.member ? { ...this.client, project: this.project, peer_id: this.member.peerId } : this.client;
  }

  // What all connections share, read from the context (getters: nothing stored per connection).
  private get limits(): RegistryLimits {
    return this.ctx.limits;
  }

  private get metrics(): RegistryMetrics {
    return this.ctx.metrics;
  }

  private get directory(): ProjectDirectory {
    return this.ctx.directory;
  }

  private get logger(): Logger {
    return this.ctx.logger;
  }

  private now(): number {
    return this.ctx.now();
  }

  send(frame: ServerFrame, message?: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    corkUntilTick(this.socket);
    if (message && !this.ws.extensions) {
      // Already a whole WebSocket message (ws-frame.ts): to the socket ws writes to.
      this.metrics.traffic.sent(frame.type, bodyLength(message));
      this.socket.write(message);
      return;
    }
    // Copied into Node's pooled Buffer memory: a fresh ArrayBuffer per frame cost more than the encoding.
    const data = message ? bodyOf(message) : Buffer.from(encodeFrameTransient(frame));
    this.metrics.traffic.sent(frame.type, data.length);
    this.ws.send(data);
  }

  /** Another connection took its peer_id (REPLACED), or its invite was revoked. */
  kick(code: 'REPLACED' | 'INVITE_REVOKED'): void {
    // Revoked: removed from the project, so its peers close their links to it (not just "away").
    if (code === 'INVITE_REVOKED') this.leaveReason = 'kicked';
    this.refuse(code, ERRORS[code].text);
  }

  refuse(code: ErrorCode, message: string, refType?: string, refPeerId?: string): void {
    this.metrics.errors.inc({ code });
    this.send({ type: 'error', code, message, ...(refType ? { ref_type: refType } : {}), ...(refPeerId ? { ref_peer_id: refPeerId } : {}) });
    const close = ERRORS[code].close;
    if (close !== null) {
      this.logger.info({ ...this.who, code }, 'connection refused');
      this.phase = 'closed';
      this.ws.close(close, code);
      setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
    }
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.phase === 'closed') return;
    const bytes = toBytes(data);
    this.metrics.traffic.received(bytes.length);

    if (bytes.length > this.limits.maxFrameBytes) {
      if (!this.bucket.take()) return this.rateLimited();
      return this.rejectFrame('FRAME_TOO_LARGE', `frame of ${bytes.length} bytes exceeds the maximum of ${this.limits.maxFrameBytes}`);
    }
    if (!isBinary) {
      if (!this.bucket.take()) return this.rateLimited();
      return this.rejectFrame('BAD_FRAME', 'text frames are not accepted: send binary MessagePack');
    }
    const decoded = decodeClientFrame(bytes);
    const relayed = decoded.ok && decoded.frame.type === 'relay' && this.phase === 'member';
    if (!(relayed ? this.relayRate() : this.bucket).take()) return this.rateLimited(decoded.ok ? decoded.frame : undefined);
    if (!decoded.ok) return this.rejectFrame('BAD_FRAME', decoded.message, decoded.type);
    this.onFrame(decoded.frame, bytes);
  }

  /** The relay frames' own rate limit, made at the first relay frame (most consoles never relay). */
  private relayRate(): TokenBucket {
    return (this.relayBucket ??= new TokenBucket(this.limits.relayFramesPerSecond, this.limits.relayFramesPerSecond, this.ctx.now));
  }

  /**
   * A frame dropped by the rate limit. The notice names the dropped frame (its type, and the
   * console it was for), so the link concerned resends at once instead of after its timers.
   */
  private rateLimited(frame?: ClientFrame): void {
    this.floodStrikes++;
    if (this.floodStrikes > this.limits.floodTolerance) return this.refuse('FLOOD', ERRORS.FLOOD.text);
    // One notice per second at most: answering every dropped frame would amplify the flood.
    if (this.now() - this.lastRateLimitNotice >= 1000) {
      this.lastRateLimitNotice = this.now();
      const limit = frame?.type === 'relay' && this.phase === 'member' ? `${this.limits.relayFramesPerSecond} relay frames/s` : `${this.limits.framesPerSecond} frames/s (burst ${this.limits.burst})`;
      const toPeerId = frame && 'to_peer_id' in frame ? frame.to_peer_id : undefined;
      this.refuse('RATE_LIMITED', `dropped: more than ${limit}`, frame?.type, toPeerId);
    } else {
      this.metrics.errors.inc({ code: 'RATE_LIMITED' });
    }
  }

  private onClose(): void {
    this.ctx.closed?.(this.ws);
    clearTimeout(this.authTimer);
    clearTimeout(this.iceRefresh);
    this.metrics.connections.dec();
    this.phase = 'closed';
    if (this.member && this.directory.remove(this.project, this.member)) {
      this.ctx.departures.note(this.project, this.member.peerId);
      this.directory.broadcast(this.project, { type: 'peer_left', peer_id: this.member.peerId, reason: this.leaveReason });
      this.ctx.cluster?.announceLeave(this.project, this.member.peerId, this.leaveReason).catch((error: Error) => this.logger.warn({ ...this.who, err: error.message }, 'could not announce a departure to the cluster'));
      this.logger.info({ ...this.who, reason: this.leaveReason }, 'console left');
    }
    this.updateGauges();
  }

  private rejectFrame(code: 'BAD_FRAME' | 'FRAME_TOO_LARGE', message: string, refType?: string): void {
    if (this.phase !== 'member') return this.refuse('AUTH_REQUIRED', `the first frame must be a valid hello (${message})`, refType);
    if (!this.badFrame(code)) this.refuse(code, message, refType);
  }

  /** Counts a bad frame; true if it was one too many and the connection is closed. */
  private badFrame(code: 'BAD_FRAME' | 'FRAME_TOO_LARGE' | 'UNKNOWN_PEER'): boolean {
    this.badFrames++;
    this.metrics.badFrames.inc({ code });
    if (this.badFrames <= this.limits.badFrameTolerance) return false;
    this.refuse('TOO_MANY_BAD_FRAMES', ERRORS.TOO_MANY_BAD_FRAMES.text);
    return true;
  }

  /**
   * A frame for a console that is not in the project. One that left lately (`departed`) is a frame
   * that crossed its departure; one that never was there, or the sender itself, is a bad frame:
   * nothing legitimate sends it, and it must not cost the registry more than a refusal.
   */
  private unknownPeer(refType: string, toPeerId: string, departed: boolean): void {
    if (this.phase === 'closed') return;
    // Never oneself, even just after a reconnect (when this peer_id is among the departures).
    const crossedDeparture = toPeerId !== this.member?.peerId && (departed || this.ctx.departures.has(this.project, toPeerId));
    if (!crossedDeparture && this.badFrame('UNKNOWN_PEER')) return;
    this.refuse('UNKNOWN_PEER', `no console ${toPeerId} in this project`, refType, toPeerId);
  }

  /** `bytes`: the frame as received (a signal is forwarded from them). */
  private onFrame(frame: ClientFrame, bytes: Uint8Array): void {
    if (frame.type === 'hello') return this.beginHello(frame);
    if (this.phase !== 'member') return this.refuse('AUTH_REQUIRED', ERRORS.AUTH_REQUIRED.text, frame.type);
    if (frame.type === 'ping') return this.send({ type: 'pong' });
    if (frame.type === 'relay') return this.routeRelay(frame);
    if (frame.type === 'update_presence') return this.updatePresence(frame.display_name);
    if ((SIGNAL_TYPES as readonly string[]).includes(frame.type)) this.route(frame, bytes);
  }

  /** A hello, sent as a frame or with the upgrade: checked unless one already is, or was. */
  private beginHello(hello: HelloFrame): void {
    if (this.phase === 'member') return this.refuse('ALREADY_AUTHENTICATED', ERRORS.ALREADY_AUTHENTICATED.text, 'hello');
    if (this.phase === 'authenticating') return this.refuse('AUTH_REQUIRED', 'hello is already being checked');
    this.phase = 'authenticating';
    void this.authenticate(hello).catch((error: unknown) => {
      this.logger.error({ ...this.who, err: (error as Error).message }, 'authentication crashed');
      this.refuse('INVITE_INVALID', 'the registry could not check this invite');
    });
  }

  private async authenticate(hello: HelloFrame): Promise<void> {
    if (hello.protocol !== PROTOCOL_VERSION) {
      return this.refuse('PROTOCOL_UNSUPPORTED', `this registry speaks protocol ${PROTOCOL_VERSION}, the console sent ${hello.protocol}`);
    }
    // Invite and signatures are checked inline (microseconds each), not as threadpool jobs: a
    // console is admitted in the turn its hello arrives, however busy the pool or the machine.
    const invite = this.ctx.invites.check(hello.invite);
    if (!invite.ok) return this.refuse(invite.code, invite.message);

    const peerId = derivePeerId(hello.signing_key);
    const nonce = this.nonce;
    if (!nonce) return; // only while authenticating, which ends with the nonce
    if (!ed25519VerifyInline(hello.signing_key, signedMessage(this.early ? 'registryHello' : 'registryAuth', nonce), hello.nonce_sig)) {
      return this.refuse('BAD_SIGNATURE', this.early ? 'the early hello’s signature does not match the signing key' : 'the challenge signature does not match the signing key');
    }
    if (!ed25519VerifyInline(hello.signing_key, signedMessage('boxKey', hello.box_key), hello.box_key_sig)) {
      return this.refuse('BAD_SIGNATURE', 'the box key is not signed by the signing key');
    }

    const cluster = this.ctx.cluster;
    if (this.early) {
      // Claimed only once its signature verified: nobody fills the memory with nonces of hellos they cannot sign.
      let fresh: boolean;
      try {
        // Awaited only with a cluster: alone, the welcome leaves in the upgrade's turn.
        const claimed = this.claimEarlyHello(hello.signing_key, nonce);
        fresh = typeof claimed === 'boolean' ? claimed : await claimed;
      } catch {
        fresh = false; // Redis away: the challenge's way, which the checks below refuse if the cluster is down
      }
      if (this.phase !== 'authenticating') return;
      this.metrics.earlyHellos.inc({ result: fresh ? 'accepted' : 'replayed' });
      if (!fresh) return this.challenge();
    }
    if (cluster && !cluster.healthy()) return this.refuse('REGISTRY_UNAVAILABLE', ERRORS.REGISTRY_UNAVAILABLE.text);
    let remote: PeerInfo[] = [];
    try {
      remote = cluster ? (await cluster.remoteMembers(invite.project)).filter((p) => p.peer_id !== peerId) : [];
    } catch {
      return this.refuse('REGISTRY_UNAVAILABLE', ERRORS.REGISTRY_UNAVAILABLE.text);
    }
    if (this.phase !== 'authenticating') return;
    const existing = this.directory.get(invite.project, peerId);
    if (!existing && this.directory.size(invite.project) + remote.length >= this.limits.maxPeersPerProject) {
      return this.refuse('PROJECT_FULL', `project ${invite.project} already has ${this.limits.maxPeersPerProject} consoles`);
    }
    if (this.ctx.invites.isRevoked(invite.inviteId)) return this.refuse('INVITE_REVOKED', ERRORS.INVITE_REVOKED.text);
    if (cluster) {
      let revoked: boolean;
      try {
        revoked = await cluster.isInviteRevoked(invite.inviteId);
      } catch {
        return this.refuse('REGISTRY_UNAVAILABLE', ERRORS.REGISTRY_UNAVAILABLE.text);
      }
      if (this.phase !== 'authenticating') return;
      if (revoked) return this.refuse('INVITE_REVOKED', ERRORS.INVITE_REVOKED.text);
    }
    if (!this.ctx.invites.consumeUse(invite.inviteId, invite.maxUses, peerId)) {
      return this.refuse('INVITE_EXHAUSTED', ERRORS.INVITE_EXHAUSTED.text);
    }

    clearTimeout(this.authTimer);
    this.authTimer = undefined;
    this.nonce = undefined;
    this.project = invite.project;
    this.signalPrefix = forwardPrefix(peerId);
    const info: PeerInfo = {
      peer_id: peerId,
      display_name: hello.display_name,
      signing_key: hello.signing_key,
      box_key: hello.box_key,
      box_key_sig: hello.box_key_sig,
      ...(hello.session_cert ? { session_cert: hello.session_cert } : {}),
      // Relayed as the console described itself: a label, not checked (it cannot be).
      ...(hello.client ? { client: hello.client } : {}),
      joined_at: this.now(),
    };
    this.member = new Membership(this, info, invite.inviteId);
    const replaced = this.directory.put(this.project, this.member);
    replaced?.kick();
    if (cluster) {
      // Registered in the shared state before welcome: from then on every instance can route to it.
      try {
        await cluster.announceJoin(this.project, info);
      } catch {
        this.directory.remove(this.project, this.member);
        this.member = undefined;
        return this.refuse('REGISTRY_UNAVAILABLE', ERRORS.REGISTRY_UNAVAILABLE.text);
      }
      if (this.phase !== 'authenticating') return;
      // Listed after registering: whoever registered before us is in this list, whoever registers
      // after us finds us in theirs (and tells us through presence, held in `early` until welcome).
      try {
        remote = (await cluster.remoteMembers(this.project)).filter((p) => p.peer_id !== peerId);
      } catch {
        // keep the list from before registering; presence fills in the rest
      }
      if (this.phase !== 'authenticating') return;
    }
    this.phase = 'member';
    this.ctx.welcomed?.(this.socket);
    const ice = this.ctx.iceServersFor(peerId);
    this.scheduleIceRefresh(ice.expiresAt);
    this.send({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      peer_id: peerId,
      project_id: this.project,
      peers: [...this.directory.members(this.project).filter((m) => m !== this.member).map((m) => m.info), ...remote.filter((p) => !this.directory.get(this.project, p.peer_id))],
      ice_servers: ice.servers,
      ice_servers_expire_at: ice.expiresAt,
      limits: {
        max_frame_bytes: this.limits.maxFrameBytes,
        frames_per_second: this.limits.framesPerSecond,
        burst: this.limits.burst,
        heartbeat_ms: this.limits.heartbeatMs,
      },
    });
    // A replacing connection is announced again so peers refresh name and keys.
    this.directory.broadcast(this.project, { type: 'peer_joined', peer: info }, peerId);
    this.member.welcomed();
    this.updateGauges();
    this.logger.info({ ...this.who, replaced: Boolean(replaced) }, 'console joined');
  }

  /**
   * The member took a new display name. Its connection, keys, session certificate and `joined_at`
   * stay; the project hears of it as a peer_joined with the same keys (a refresh, as for a
   * replacing connection), so peers rename it and keep their links to it.
   */
  private updatePresence(displayName: string): void {
    const current = this.member!;
    if (current.displayName === displayName) return;
    current.displayName = displayName;
    const info = current.info;
    this.directory.broadcast(this.project, { type: 'peer_joined', peer: info }, current.peerId);
    // Registered again under the same instance: the other instances' members hear of it too.
    this.ctx.cluster?.announceJoin(this.project, info).catch((error: Error) => this.logger.warn({ ...this.who, err: error.message }, 'could not announce a rename to the cluster'));
    this.logger.info(this.who, 'console renamed');
  }

  /** Delivers to a member on another instance; refuses with UNKNOWN_PEER if none has it. */
  private routeRemote(frame: ServerFrame, refType: string, toPeerId: string): void {
    const cluster = this.ctx.cluster;
    if (!cluster) return this.unknownPeer(refType, toPeerId, false);
    cluster.route(this.project, toPeerId, frame).then(
      (result) => {
        if (result !== 'delivered') this.unknownPeer(refType, toPeerId, result === 'departed');
      },
      () => this.refuse('REGISTRY_UNAVAILABLE', 'the frame could not cross to another registry instance', refType, toPeerId),
    );
  }

  private route(frame: Extract<ClientFrame, { to_peer_id: string }>, received: Uint8Array): void {
    const target = this.directory.get(this.project, frame.to_peer_id);
    if (target === this.member) return this.unknownPeer(frame.type, frame.to_peer_id, false);
    if (!target) {
      this.metrics.traffic.signaled(frame.payload.length);
      return this.routeRemote({ type: frame.type, from_peer_id: this.member!.peerId, to_peer_id: frame.to_peer_id, payload: frame.payload }, frame.type, frame.to_peer_id);
    }
    if (target.queuedBytes() > this.limits.maxQueuedBytes) {
      return this.refuse('PEER_BACKLOGGED', `console ${frame.to_peer_id} is not reading; frame dropped`, frame.type, frame.to_peer_id);
    }
    this.metrics.traffic.signaled(frame.payload.length);
    // The received entries after this sender's from_peer_id, in a WebSocket message: no second
    // encoding of what was just decoded, no second write for the message's header.
    const length = forwardedSignalLength(received, this.signalPrefix!);
    let message: Buffer | undefined;
    if (length !== undefined) writeForwardedSignal((message = binaryMessage(length)), message.length - length, received, this.signalPrefix!);
    target.send({ type: frame.type, from_peer_id: this.member!.peerId, to_peer_id: frame.to_peer_id, payload: frame.payload }, message);
  }

  /**
   * A relay frame is charged only once its recipient is known to be a member (here, or — found in
   * the same atomic step as the charge — at another instance): a frame to nobody costs nothing
   * and creates no state. Budgets are the pair's and the project's, wherever they are kept.
   */
  private routeRelay(frame: Extract<ClientFrame, { type: 'relay' }>): void {
    const from = this.member!.peerId;
    const to = frame.to_peer_id;
    const bytes = frame.payload.length;
    const target = to === from ? undefined : this.directory.get(this.project, to);
    if (to === from || (!target && !this.ctx.cluster)) return this.unknownPeer('relay', to, false);
    if (target && target.queuedBytes() > this.limits.maxQueuedBytes) {
      return this.refuse('PEER_BACKLOGGED', `console ${to} is not reading; relay frame dropped`, 'relay', to);
    }
    const relayed: ServerFrame = { type: 'relay', from_peer_id: from, to_peer_id: to, payload: frame.payload };
    const cluster = this.ctx.cluster;
    // Here alone (one process, or Redis out of reach: consoles of this instance are still served).
    const chargeLocally = (): void => {
      if (!target) return this.unknownPeer('relay', to, false);
      const charged = this.ctx.relay.charge(this.project, from, to, bytes, cluster?.projectBytesToday(this.project));
      if (!charged.ok) return this.refuse('RELAY_OVER_BUDGET', charged.reason, 'relay', to);
      this.deliverRelay(relayed, target, undefined, charged.report);
    };
    if (!cluster?.healthy()) return chargeLocally();
    cluster.chargeRelay(this.project, from, to, bytes, this.ctx.relay.budget, !target).then(
      (charged) => {
        if (!charged.ok) {
          if (charged.refusal === 'unknown' || charged.refusal === 'departed') return this.unknownPeer('relay', to, charged.refusal === 'departed');
          return this.refuse('RELAY_OVER_BUDGET', refusalReason(charged.refusal, this.project, this.ctx.relay.budget), 'relay', to);
        }
        this.deliverRelay(relayed, target, charged.instance, this.ctx.relay.charged(this.project, from, to, bytes, charged));
      },
      () => (target ? chargeLocally() : this.refuse('REGISTRY_UNAVAILABLE', 'the relay frame could not cross to another registry instance', 'relay', to)),
    );
  }

  /** Hands a charged relay frame to its recipient (here, or at `instance`) and reports usage to both when due. */
  private deliverRelay(relayed: Extract<ServerFrame, { type: 'relay' }>, target: Member | undefined, instance: string | undefined, report: RelayUsage | undefined): void {
    const { from_peer_id: from, to_peer_id: to } = relayed;
    this.metrics.relayBytes.inc(relayed.payload.length);
    const toRecipient = (frame: ServerFrame, onGone: () => void): void => {
      if (target) return target.send(frame);
      this.ctx.cluster!.sendTo(instance!, this.project, to, frame).then(
        (delivered) => delivered || onGone(),
        () => onGone(),
      );
    };
    // Its instance has gone since the charge: the console left with it.
    toRecipient(relayed, () => this.unknownPeer('relay', to, true));
    if (!report) return;
    const usage = (peerId: string): ServerFrame => ({
      type: 'relay_usage',
      peer_id: peerId,
      pair_bytes: report.pairBytes,
      pair_bytes_per_s: report.pairBytesPerSecond,
      project_bytes_today: report.projectBytesToday,
      pair_budget_bytes_per_s: report.budget.pairBytesPerSecond,
      project_budget_bytes_per_day: report.budget.projectBytesPerDay,
    });
    this.send(usage(to));
    // A report is no frame of the sender's: if it cannot reach the peer, nobody is told twice.
    toRecipient(usage(from), () => undefined);
  }

  /** Sends fresh TURN credentials at half their lifetime, for as long as the console stays. */
  private scheduleIceRefresh(expiresAt: number): void {
    if (!expiresAt) return;
    this.iceRefresh = setTimeout(() => {
      if (this.phase !== 'member' || !this.member) return;
      const ice = this.ctx.iceServersFor(this.member.peerId);
      this.send({ type: 'ice_servers', ice_servers: ice.servers, expires_at: ice.expiresAt });
      this.scheduleIceRefresh(ice.expiresAt);
    }, Math.max(1000, (expiresAt - this.now()) / 2));
  }

  private updateGauges(): void {
    this.metrics.consoles.set(this.directory.memberCount);
    this.metrics.projects.set(this.directory.projectCount);
  }

  /** Called by the registry every heartbeat interval: a console that did not answer the last ping is cut. */
  heartbeat(): void {
    if (!this.alive) {
      this.leaveReason = 'timeout';
      this.logger.info(this.who, 'no pong within a heartbeat: terminating');
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }
}

/**
 * A console in the directory: its connection once welcomed (a class, so that its methods are shared
 * rather than three closures per member).
 */
class Membership implements Member {
  /**
   * Frames for this console that arrive before its welcome (presence from other instances while
   * it registers) wait here, so a console never hears of a peer before it has been welcomed.
   */
  private early: ServerFrame[] | undefined = [];

  readonly peerId: string;
  displayName: string;
  /** Its keys and session certificate (member-keys.ts): what a member holds of its hello. */
  private readonly keys: string;
  private readonly client: ClientInfo | undefined;
  private readonly joinedAt: number;

  constructor(
    private readonly connection: Connection,
    info: PeerInfo,
    readonly inviteId: string,
  ) {
    this.peerId = info.peer_id;
    this.displayName = info.display_name;
    this.keys = packKeys(info);
    this.client = info.client;
    this.joinedAt = info.joined_at;
  }

  /** As peers are told of it (welcome, peer_joined, the cluster): made when asked, a few times in a console's life. */
  get info(): PeerInfo {
    return { peer_id: this.peerId, display_name: this.displayName, ...unpackKeys(this.keys), ...(this.client ? { client: this.client } : {}), joined_at: this.joinedAt };
  }

  /** `message`: the frame as a whole WebSocket message (ws-frame.ts), when the caller has it. */
  send(frame: ServerFrame, message?: Buffer): void {
    if (this.early) this.early.push(frame);
    else this.connection.send(frame, message);
  }

  /** Its welcome is sent: what waited follows it, what comes next goes straight out. */
  welcomed(): void {
    const early = this.early ?? [];
    this.early = undefined;
    for (const frame of early) this.connection.send(frame);
  }

  queuedBytes(): number {
    return this.connection.ws.bufferedAmount;
  }

  kick(code: 'REPLACED' | 'INVITE_REVOKED' = 'REPLACED'): void {
    this.connection.kick(code);
  }
}

/**
 * Frames sent to one console in one turn of the event loop leave in one socket write. Frames come
 * in bursts (the candidates one peer trickles arrive in one read and go to one console), and the
 * write of each frame — a system call — was half of the registry's CPU time (docs/BENCHMARKS.md).
 * A socket is corked at its first frame and uncorked when the handler of the read that caused it
 * returns (process.nextTick), so no frame waits for anything else. (Uncorking at setImmediate,
 * after the whole poll phase, coalesced no better in the capacity benchmark and delays frames.)
 * One list for all sockets, not a closure per connection, and one tick for all corked in a turn.
 */
const corked = new Set<Pick<Socket, 'cork' | 'uncork'>>();

function corkUntilTick(socket: Pick<Socket, 'cork' | 'uncork'>): void {
  // ws's own sends cork and uncork the socket around each frame, which nests inside this.
  if (corked.has(socket)) return;
  if (corked.size === 0) process.nextTick(uncorkAll);
  corked.add(socket);
  socket.cork();
}

function uncorkAll(): void {
  for (const socket of corked) {
    corked.delete(socket);
    socket.uncork();
  }
}

/** A Buffer is a Uint8Array already: no view is made for it (one allocation less per frame). */
function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
