/**
 * One WebSocket connection's life: challenge → hello (invite + key proof) → member of a project,
 * routing signaling frames by to_peer_id. Every refusal is an `error` frame with a documented
 * code; refusals that end the connection close it with the code's close code.
 *
 * Longer than ~450 lines on purpose: it is one connection's state machine (its `Phase`), and each
 * frame type's handling reads and changes that connection's state (phase, membership, rate
 * budgets, heartbeat); the parts that are not (invites, the directory, relay accounting, the
 * cluster) are modules of their own.
 */
import type { Socket } from 'node:net';
import type { WebSocket, RawData } from 'ws';
import type { Logger } from 'pino';
import { encodeFrameTransient, decodeClientFrame } from '../../src-shared/protocol/codec';
import { ERRORS, type ErrorCode } from '../../src-shared/protocol/errors';
import {
  PROTOCOL_VERSION,
  SIGNAL_TYPES,
  type ClientFrame,
  type HelloFrame,
  type IceServer,
  type PeerInfo,
  type ServerFrame,
} from '../../src-shared/protocol/signaling';
import { derivePeerId, ed25519Verify, signedMessage } from '../../src-shared/identity';
import type { InviteAuthority } from './invites';
import type { Member, ProjectDirectory } from './projects';
import type { RegistryMetrics } from './metrics';
import { TokenBucket } from '../../src-shared/token-bucket';
import { refusalReason, type RelayAccounting, type RelayUsage } from './relay-accounting';
import type { Cluster } from './cluster/cluster';
import type { RecentDepartures } from './departures';

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
export function handleConnection(ws: WebSocket, socket: Socket, client: LogFields, ctx: ConnectionContext): { heartbeat(): void } {
  const { limits, metrics, directory, now, logger } = ctx;
  // Needed until the hello is checked, then dropped.
  let nonce: Uint8Array | undefined = crypto.getRandomValues(new Uint8Array(32));
  const bucket = new TokenBucket(limits.framesPerSecond, limits.burst, now);
  const relayBucket = new TokenBucket(limits.relayFramesPerSecond, limits.relayFramesPerSecond, now);
  let iceRefresh: ReturnType<typeof setTimeout> | undefined;
  let phase: Phase = 'awaiting-hello';
  let member: Member | undefined;
  let project = '';
  let floodStrikes = 0;
  let badFrames = 0;
  let lastRateLimitNotice = -Infinity;
  let alive = true;
  let leaveReason: 'closed' | 'timeout' = 'closed';
  let who = client;

  metrics.connections.inc();

  const send = (frame: ServerFrame): void => {
    if (ws.readyState !== ws.OPEN) return;
    corkUntilTick(socket);
    // Copied into Node's pooled Buffer memory: a fresh ArrayBuffer per frame cost more than the encoding.
    const data = Buffer.from(encodeFrameTransient(frame));
    metrics.frames.inc({ direction: 'out', type: frame.type });
    metrics.bytes.inc({ direction: 'out' }, data.length);
    ws.send(data);
  };

  const refuse = (code: ErrorCode, message: string, refType?: string, refPeerId?: string): void => {
    metrics.errors.inc({ code });
    send({ type: 'error', code, message, ...(refType ? { ref_type: refType } : {}), ...(refPeerId ? { ref_peer_id: refPeerId } : {}) });
    const close = ERRORS[code].close;
    if (close !== null) {
      logger.info({ ...who, code }, 'connection refused');
      phase = 'closed';
      ws.close(close, code);
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    }
  };

  let authTimer: ReturnType<typeof setTimeout> | undefined = setTimeout(() => {
    if (phase === 'awaiting-hello' || phase === 'authenticating') refuse('AUTH_TIMEOUT', ERRORS.AUTH_TIMEOUT.text);
  }, limits.authTimeoutMs);

  send({ type: 'challenge', protocol: PROTOCOL_VERSION, nonce });

  ws.on('pong', () => {
    alive = true;
  });

  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (phase === 'closed') return;
    const bytes = toBytes(data);
    metrics.frames.inc({ direction: 'in', type: 'any' });
    metrics.bytes.inc({ direction: 'in' }, bytes.length);

    if (bytes.length > limits.maxFrameBytes) {
      if (!bucket.take()) return rateLimited();
      return rejectFrame('FRAME_TOO_LARGE', `frame of ${bytes.length} bytes exceeds the maximum of ${limits.maxFrameBytes}`);
    }
    if (!isBinary) {
      if (!bucket.take()) return rateLimited();
      return rejectFrame('BAD_FRAME', 'text frames are not accepted: send binary MessagePack');
    }
    const decoded = decodeClientFrame(bytes);
    const relayed = decoded.ok && decoded.frame.type === 'relay' && phase === 'member';
    if (!(relayed ? relayBucket : bucket).take()) return rateLimited(decoded.ok ? decoded.frame : undefined);
    if (!decoded.ok) return rejectFrame('BAD_FRAME', decoded.message, decoded.type);
    onFrame(decoded.frame);
  });

  /**
   * A frame dropped by the rate limit. The notice names the dropped frame (its type, and the
   * console it was for), so the link concerned resends at once instead of after its timers.
   */
  function rateLimited(frame?: ClientFrame): void {
    floodStrikes++;
    if (floodStrikes > limits.floodTolerance) return refuse('FLOOD', ERRORS.FLOOD.text);
    // One notice per second at most: answering every dropped frame would amplify the flood.
    if (now() - lastRateLimitNotice >= 1000) {
      lastRateLimitNotice = now();
      const limit = frame?.type === 'relay' && phase === 'member' ? `${limits.relayFramesPerSecond} relay frames/s` : `${limits.framesPerSecond} frames/s (burst ${limits.burst})`;
      const toPeerId = frame && 'to_peer_id' in frame ? frame.to_peer_id : undefined;
      refuse('RATE_LIMITED', `dropped: more than ${limit}`, frame?.type, toPeerId);
    } else {
      metrics.errors.inc({ code: 'RATE_LIMITED' });
    }
  }

  ws.on('close', () => {
    clearTimeout(authTimer);
    clearTimeout(iceRefresh);
    metrics.connections.dec();
    phase = 'closed';
    if (member && directory.remove(project, member)) {
      ctx.departures.note(project, member.info.peer_id);
      directory.broadcast(project, { type: 'peer_left', peer_id: member.info.peer_id, reason: leaveReason });
      ctx.cluster?.announceLeave(project, member.info.peer_id, leaveReason).catch((error: Error) => logger.warn({ ...who, err: error.message }, 'could not announce a departure to the cluster'));
      logger.info({ ...who, reason: leaveReason }, 'console left');
    }
    updateGauges();
  });

  ws.on('error', (error) => logger.warn({ ...who, err: error.message }, 'socket error'));

  function rejectFrame(code: 'BAD_FRAME' | 'FRAME_TOO_LARGE', message: string, refType?: string): void {
    if (phase !== 'member') return refuse('AUTH_REQUIRED', `the first frame must be a valid hello (${message})`, refType);
    if (!badFrame(code)) refuse(code, message, refType);
  }

  /** Counts a bad frame; true if it was one too many and the connection is closed. */
  function badFrame(code: 'BAD_FRAME' | 'FRAME_TOO_LARGE' | 'UNKNOWN_PEER'): boolean {
    badFrames++;
    metrics.badFrames.inc({ code });
    if (badFrames <= limits.badFrameTolerance) return false;
    refuse('TOO_MANY_BAD_FRAMES', ERRORS.TOO_MANY_BAD_FRAMES.text);
    return true;
  }

  /**
   * A frame for a console that is not in the project. One that left lately (`departed`) is a frame
   * that crossed its departure; one that never was there, or the sender itself, is a bad frame:
   * nothing legitimate sends it, and it must not cost the registry more than a refusal.
   */
  function unknownPeer(refType: string, toPeerId: string, departed: boolean): void {
    if (phase === 'closed') return;
    // Never oneself, even just after a reconnect (when this peer_id is among the departures).
    const crossedDeparture = toPeerId !== member?.info.peer_id && (departed || ctx.departures.has(project, toPeerId));
    if (!crossedDeparture && badFrame('UNKNOWN_PEER')) return;
    refuse('UNKNOWN_PEER', `no console ${toPeerId} in this project`, refType, toPeerId);
  }

  function onFrame(frame: ClientFrame): void {
    if (frame.type === 'hello') {
      if (phase === 'member') return refuse('ALREADY_AUTHENTICATED', ERRORS.ALREADY_AUTHENTICATED.text, 'hello');
      if (phase === 'authenticating') return refuse('AUTH_REQUIRED', 'hello is already being checked');
      phase = 'authenticating';
      void authenticate(frame).catch((error: unknown) => {
        logger.error({ ...who, err: (error as Error).message }, 'authentication crashed');
        refuse('INVITE_INVALID', 'the registry could not check this invite');
      });
      return;
    }
    if (phase !== 'member') return refuse('AUTH_REQUIRED', ERRORS.AUTH_REQUIRED.text, frame.type);
    if (frame.type === 'ping') return send({ type: 'pong' });
    if (frame.type === 'relay') return routeRelay(frame);
    if (frame.type === 'update_presence') return updatePresence(frame.display_name);
    if ((SIGNAL_TYPES as readonly string[]).includes(frame.type)) route(frame);
  }

  async function authenticate(hello: HelloFrame): Promise<void> {
    if (hello.protocol !== PROTOCOL_VERSION) {
      return refuse('PROTOCOL_UNSUPPORTED', `this registry speaks protocol ${PROTOCOL_VERSION}, the console sent ${hello.protocol}`);
    }
    const invite = await ctx.invites.check(hello.invite);
    if (phase !== 'authenticating') return; // closed or timed out meanwhile
    if (!invite.ok) return refuse(invite.code, invite.message);

    const peerId = derivePeerId(hello.signing_key);
    if (!nonce) return; // only while authenticating, which ends with the nonce
    const [nonceOk, boxKeyOk] = await Promise.all([
      ed25519Verify(hello.signing_key, signedMessage('registryAuth', nonce), hello.nonce_sig),
      ed25519Verify(hello.signing_key, signedMessage('boxKey', hello.box_key), hello.box_key_sig),
    ]);
    if (phase !== 'authenticating') return;
    if (!nonceOk) return refuse('BAD_SIGNATURE', 'the challenge signature does not match the signing key');
    if (!boxKeyOk) return refuse('BAD_SIGNATURE', 'the box key is not signed by the signing key');

    const cluster = ctx.cluster;
    if (cluster && !cluster.healthy()) return refuse('REGISTRY_UNAVAILABLE', ERRORS.REGISTRY_UNAVAILABLE.text);
    let remote: PeerInfo[] = [];
    try {
      remote = cluster ? (await cluster.remoteMembers(invite.project)).filter((p) => p.peer_id !== peerId) : [];
    } catch {
      return refuse('REGISTRY_UNAVAILABLE', ERRORS.REGISTRY_UNAVAILABLE.text);
    }
    if (phase !== 'authenticating') return;
    const existing = directory.get(invite.project, peerId);
    if (!existing && directory.size(invite.project) + remote.length >= limits.maxPeersPerProject) {
      return refuse('PROJECT_FULL', `project ${invite.project} already has ${limits.maxPeersPerProject} consoles`);
    }
    if (ctx.invites.isRevoked(invite.inviteId)) return refuse('INVITE_REVOKED', ERRORS.INVITE_REVOKED.text);
    if (cluster) {
      let revoked: boolean;
      try {
        revoked = await cluster.isInviteRevoked(invite.inviteId);
      } catch {
        return refuse('REGISTRY_UNAVAILABLE', ERRORS.REGISTRY_UNAVAILABLE.text);
      }
      if (phase !== 'authenticating') return;
      if (revoked) return refuse('INVITE_REVOKED', ERRORS.INVITE_REVOKED.text);
    }
    if (!ctx.invites.consumeUse(invite.inviteId, invite.maxUses, peerId)) {
      return refuse('INVITE_EXHAUSTED', ERRORS.INVITE_EXHAUSTED.text);
    }

    clearTimeout(authTimer);
    authTimer = undefined;
    nonce = undefined;
    project = invite.project;
    who = { ...client, project, peer_id: peerId };
    // The decoded keys are views into the whole hello frame as read (invite and all): copied out,
    // so that a member keeps its 128 bytes of keys rather than the ~500-byte frame.
    const [signingKey, boxKey, boxKeySig, sessionCert] = compactCopy([hello.signing_key, hello.box_key, hello.box_key_sig, hello.session_cert]);
    const info: PeerInfo = {
      peer_id: peerId,
      display_name: hello.display_name,
      signing_key: signingKey!,
      box_key: boxKey!,
      box_key_sig: boxKeySig!,
      ...(sessionCert ? { session_cert: sessionCert } : {}),
      // Relayed as the console described itself: a label, not checked (it cannot be).
      ...(hello.client ? { client: hello.client } : {}),
      joined_at: now(),
    };
    // Frames for this console that arrive before its welcome (presence from other instances while
    // it registers) wait, so a console never hears of a peer before it has been welcomed.
    const early: ServerFrame[] = [];
    const sendWhenWelcomed = (frame: ServerFrame) => (phase === 'member' ? send(frame) : early.push(frame));
    member = { info, inviteId: invite.inviteId, send: sendWhenWelcomed, queuedBytes: () => ws.bufferedAmount, kick: (code = 'REPLACED') => refuse(code, ERRORS[code].text) };
    const replaced = directory.put(project, member);
    replaced?.kick();
    if (cluster) {
      // Registered in the shared state before welcome: from then on every instance can route to it.
      try {
        await cluster.announceJoin(project, info);
      } catch {
        directory.remove(project, member);
        member = undefined;
        return refuse('REGISTRY_UNAVAILABLE', ERRORS.REGISTRY_UNAVAILABLE.text);
      }
      if (phase !== 'authenticating') return;
      // Listed after registering: whoever registered before us is in this list, whoever registers
      // after us finds us in theirs (and tells us through presence, held in `early` until welcome).
      try {
        remote = (await cluster.remoteMembers(project)).filter((p) => p.peer_id !== peerId);
      } catch {
        // keep the list from before registering; presence fills in the rest
      }
      if (phase !== 'authenticating') return;
    }
    phase = 'member';
    ctx.welcomed?.(socket);
    const ice = ctx.iceServersFor(peerId);
    scheduleIceRefresh(ice.expiresAt);
    send({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      peer_id: peerId,
      project_id: project,
      peers: [...directory.members(project).filter((m) => m !== member).map((m) => m.info), ...remote.filter((p) => !directory.get(project, p.peer_id))],
      ice_servers: ice.servers,
      ice_servers_expire_at: ice.expiresAt,
      limits: {
        max_frame_bytes: limits.maxFrameBytes,
        frames_per_second: limits.framesPerSecond,
        burst: limits.burst,
        heartbeat_ms: limits.heartbeatMs,
      },
    });
    // A replacing connection is announced again so peers refresh name and keys.
    directory.broadcast(project, { type: 'peer_joined', peer: info }, peerId);
    for (const frame of early.splice(0)) send(frame);
    updateGauges();
    logger.info({ ...who, replaced: Boolean(replaced) }, 'console joined');
  }

  /**
   * The member took a new display name. Its connection, keys, session certificate and `joined_at`
   * stay; the project hears of it as a peer_joined with the same keys (a refresh, as for a
   * replacing connection), so peers rename it and keep their links to it.
   */
  function updatePresence(displayName: string): void {
    const current = member!;
    if (current.info.display_name === displayName) return;
    current.info = { ...current.info, display_name: displayName };
    directory.broadcast(project, { type: 'peer_joined', peer: current.info }, current.info.peer_id);
    // Registered again under the same instance: the other instances' members hear of it too.
    ctx.cluster?.announceJoin(project, current.info).catch((error: Error) => logger.warn({ ...who, err: error.message }, 'could not announce a rename to the cluster'));
    logger.info(who, 'console renamed');
  }

  /** Delivers to a member on another instance; refuses with UNKNOWN_PEER if none has it. */
  function routeRemote(frame: ServerFrame, refType: string, toPeerId: string): void {
    const cluster = ctx.cluster;
    if (!cluster) return unknownPeer(refType, toPeerId, false);
    cluster.route(project, toPeerId, frame).then(
      (result) => {
        if (result !== 'delivered') unknownPeer(refType, toPeerId, result === 'departed');
      },
      () => refuse('REGISTRY_UNAVAILABLE', 'the frame could not cross to another registry instance', refType, toPeerId),
    );
  }

  function route(frame: Extract<ClientFrame, { to_peer_id: string }>): void {
    const target = directory.get(project, frame.to_peer_id);
    if (target === member) return unknownPeer(frame.type, frame.to_peer_id, false);
    if (!target) {
      metrics.signalingBytes.inc(frame.payload.length);
      return routeRemote({ type: frame.type, from_peer_id: member!.info.peer_id, to_peer_id: frame.to_peer_id, payload: frame.payload }, frame.type, frame.to_peer_id);
    }
    if (target.queuedBytes() > limits.maxQueuedBytes) {
      return refuse('PEER_BACKLOGGED', `console ${frame.to_peer_id} is not reading; frame dropped`, frame.type, frame.to_peer_id);
    }
    metrics.signalingBytes.inc(frame.payload.length);
    target.send({ type: frame.type, from_peer_id: member!.info.peer_id, to_peer_id: frame.to_peer_id, payload: frame.payload });
  }

  /**
   * A relay frame is charged only once its recipient is known to be a member (here, or — found in
   * the same atomic step as the charge — at another instance): a frame to nobody costs nothing
   * and creates no state. Budgets are the pair's and the project's, wherever they are kept.
   */
  function routeRelay(frame: Extract<ClientFrame, { type: 'relay' }>): void {
    const from = member!.info.peer_id;
    const to = frame.to_peer_id;
    const bytes = frame.payload.length;
    const target = to === from ? undefined : directory.get(project, to);
    if (to === from || (!target && !ctx.cluster)) return unknownPeer('relay', to, false);
    if (target && target.queuedBytes() > limits.maxQueuedBytes) {
      return refuse('PEER_BACKLOGGED', `console ${to} is not reading; relay frame dropped`, 'relay', to);
    }
    const relayed: ServerFrame = { type: 'relay', from_peer_id: from, to_peer_id: to, payload: frame.payload };
    const cluster = ctx.cluster;
    // Here alone (one process, or Redis out of reach: consoles of this instance are still served).
    const chargeLocally = (): void => {
      if (!target) return unknownPeer('relay', to, false);
      const charged = ctx.relay.charge(project, from, to, bytes, cluster?.projectBytesToday(project));
      if (!charged.ok) return refuse('RELAY_OVER_BUDGET', charged.reason, 'relay', to);
      deliverRelay(relayed, target, undefined, charged.report);
    };
    if (!cluster?.healthy()) return chargeLocally();
    cluster.chargeRelay(project, from, to, bytes, ctx.relay.budget, !target).then(
      (charged) => {
        if (!charged.ok) {
          if (charged.refusal === 'unknown' || charged.refusal === 'departed') return unknownPeer('relay', to, charged.refusal === 'departed');
          return refuse('RELAY_OVER_BUDGET', refusalReason(charged.refusal, project, ctx.relay.budget), 'relay', to);
        }
        deliverRelay(relayed, target, charged.instance, ctx.relay.charged(project, from, to, bytes, charged));
      },
      () => (target ? chargeLocally() : refuse('REGISTRY_UNAVAILABLE', 'the relay frame could not cross to another registry instance', 'relay', to)),
    );
  }

  /** Hands a charged relay frame to its recipient (here, or at `instance`) and reports usage to both when due. */
  function deliverRelay(relayed: Extract<ServerFrame, { type: 'relay' }>, target: Member | undefined, instance: string | undefined, report: RelayUsage | undefined): void {
    const { from_peer_id: from, to_peer_id: to } = relayed;
    metrics.relayBytes.inc(relayed.payload.length);
    const toRecipient = (frame: ServerFrame, onGone: () => void): void => {
      if (target) return target.send(frame);
      ctx.cluster!.sendTo(instance!, project, to, frame).then(
        (delivered) => delivered || onGone(),
        () => onGone(),
      );
    };
    // Its instance has gone since the charge: the console left with it.
    toRecipient(relayed, () => unknownPeer('relay', to, true));
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
    send(usage(to));
    // A report is no frame of the sender's: if it cannot reach the peer, nobody is told twice.
    toRecipient(usage(from), () => undefined);
  }

  /** Sends fresh TURN credentials at half their lifetime, for as long as the console stays. */
  function scheduleIceRefresh(expiresAt: number): void {
    if (!expiresAt) return;
    iceRefresh = setTimeout(() => {
      if (phase !== 'member' || !member) return;
      const ice = ctx.iceServersFor(member.info.peer_id);
      send({ type: 'ice_servers', ice_servers: ice.servers, expires_at: ice.expiresAt });
      scheduleIceRefresh(ice.expiresAt);
    }, Math.max(1000, (expiresAt - now()) / 2));
  }

  function updateGauges(): void {
    metrics.consoles.set(directory.memberCount);
    metrics.projects.set(directory.projectCount);
  }

  return {
    heartbeat() {
      if (!alive) {
        leaveReason = 'timeout';
        logger.info(who, 'no pong within a heartbeat: terminating');
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    },
  };
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

/** Copies byte arrays into one new buffer (one allocation), returning a view of it for each (undefined stays undefined). */
function compactCopy(parts: Array<Uint8Array | undefined>): Array<Uint8Array | undefined> {
  const all = new Uint8Array(parts.reduce((sum, part) => sum + (part?.length ?? 0), 0));
  let offset = 0;
  return parts.map((part) => {
    if (!part) return undefined;
    all.set(part, offset);
    offset += part.length;
    return all.subarray(offset - part.length, offset);
  });
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
