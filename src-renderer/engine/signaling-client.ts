/**
 * The console's connection to its registry: authenticates (invite + a signed nonce: its own, in the
 * hello it sends with the upgrade, or the registry's challenge when that hello is not taken), reports
 * presence and incoming signaling, and reconnects with backoff and jitter until the registry
 * refuses it for good (bad or expired invite, bad key, replaced by another connection).
 * It keeps to the limits `welcome` gives: what it sends is paced to `frames_per_second`/`burst`
 * (frame-pacer.ts), and a socket that stops answering is noticed within `heartbeat_ms` and
 * replaced (keepalive.ts).
 * Knows nothing of Vue; the WebSocket constructor and the clock can be injected.
 */
import { decodeServerFrame, encodeFrame } from '../../src-shared/protocol/codec';
import { ERRORS, type ErrorCode } from '../../src-shared/protocol/errors';
import {
  PROTOCOL_VERSION,
  type ClientFrame,
  type ClientInfo,
  type HelloFrame,
  type IncomingSignal,
  type IceServer,
  type LeaveReason,
  type PeerInfo,
  type RelayFrame,
  type RelayUsageFrame,
  type ServerFrame,
  type SignalType,
  type WelcomeFrame,
} from '../../src-shared/protocol/signaling';
import { earlyHelloPayload, earlyHelloProtocols, SIGNALING_SUBPROTOCOL } from '../../src-shared/protocol/early-hello';
import { Emitter } from './emitter';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff';
import { systemClock, type Clock } from './clock';
import { FramePacer } from './frame-pacer';
import { Keepalive } from './keepalive';

export type RegistryState =
  | { phase: 'idle' }
  | { phase: 'connecting'; attempt: number }
  | { phase: 'connected'; since: number }
  | { phase: 'reconnecting'; attempt: number; retryAt: number; reason: string }
  | { phase: 'rejected'; code: string; message: string };

/** Refusals that retrying cannot fix: the user must act (new invite, other console closed…). */
const FINAL_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'PROTOCOL_UNSUPPORTED',
  'INVITE_INVALID',
  'INVITE_EXPIRED',
  'INVITE_EXHAUSTED',
  'INVITE_REVOKED',
  'BAD_SIGNATURE',
  'REPLACED',
  'PROJECT_FULL',
]);

export interface SignalingClientOptions {
  /** The registry, or several instances of it: each reconnect attempt tries the next. */
  url: string | string[];
  invite: string;
  displayName: string;
  signingPublicKey: Uint8Array;
  boxPublicKey: Uint8Array;
  boxKeySignature: Uint8Array;
  /** Published in presence (opaque to the registry), so peers verify it before any signaling. */
  sessionCertificate?: Uint8Array;
  /** What this peer is (console or agent, software, version), sent in `hello` for peers to show. */
  client?: ClientInfo;
  signChallenge(nonce: Uint8Array): Promise<Uint8Array>;
  /**
   * Signs an early hello's payload (its time and salt, early-hello.ts) as `registryHello`. Left out:
   * the console waits for the registry's challenge (one registry turn more).
   */
  signEarlyHello?(payload: Uint8Array): Promise<Uint8Array>;
  /** `protocols`: the subprotocols to offer (the early hello rides in them: early-hello.ts). */
  createSocket?: (url: string, protocols: string[]) => WebSocket;
  backoff?: BackoffPolicy;
  random?: () => number;
  clock?: Clock;
}

/** WebSocket.OPEN, without touching a global Node 20 lacks. */
const SOCKET_OPEN = 1;
/**
 * A connection attempt with no welcome this long after it started is given up (the registry's own
 * deadline for a hello is 10 s): a connect into a network that swallows packets would otherwise
 * wait for the operating system's TCP timeout.
 */
export const WELCOME_DEADLINE_MS = 15_000;

type Events = {
  state: RegistryState;
  welcome: WelcomeFrame;
  peer_joined: PeerInfo;
  peer_left: { peerId: string; reason: LeaveReason };
  signal: IncomingSignal;
  relay: RelayFrame;
  relay_usage: RelayUsageFrame;
  ice_servers: { servers: IceServer[]; expiresAt: number };
  /** An error frame that did not end the connection (e.g. UNKNOWN_PEER, RATE_LIMITED). */
  error: { code: string; message: string; refType?: string; refPeerId?: string };
  /** Frames waiting for the registry's rate limit (0: none wait). */
  pacing: { queued: number; framesPerSecond: number };
};

export class SignalingClient extends Emitter<Events> {
  private socket: WebSocket | undefined;
  private attempt = 0;
  private retryTimer: unknown;
  private stopped = true;
  private lastError: { code: string; message: string } | undefined;
  private current: RegistryState = { phase: 'idle' };
  private readonly urls: string[];
  private urlIndex = 0;
  private displayName: string;
  /** The name the current connection's hello carried. */
  private helloName: string | undefined;
  private readonly clock: Clock;
  private readonly pacer: FramePacer<ClientFrame>;
  private keepalive: Keepalive | undefined;
  private connectionDeadline: unknown;
  private framesPerSecond = 0;
  /** Counts connection attempts and stops: an attempt still signing its early hello when another began, or stop(), is dropped. */
  private attempts = 0;

  constructor(private readonly options: SignalingClientOptions) {
    super();
    this.urls = Array.isArray(options.url) ? options.url : [options.url];
    if (this.urls.length === 0) throw new Error('a registry URL is needed');
    this.displayName = options.displayName;
    this.clock = options.clock ?? systemClock;
    this.pacer = new FramePacer((frame) => this.transmit(frame), this.clock, (queued) => this.emit('pacing', { queued, framesPerSecond: this.framesPerSecond }));
  }

  /** Frames waiting for the registry's rate limit. */
  get queuedFrames(): number {
    return this.pacer.queued;
  }

  /** The registry instance used by the current (or last) connection. */
  get url(): string {
    return this.urls[this.urlIndex]!;
  }

  get state(): RegistryState {
    return this.current;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.connect();
  }

  /** While reconnecting: tries now instead of waiting out the backoff (a person who knows the registry is back). */
  retryNow(): void {
    if (this.stopped || this.current.phase !== 'reconnecting') return;
    this.clock.clearTimeout(this.retryTimer);
    this.connect();
  }

  /** Closes for good; idempotent. */
  stop(): void {
    this.stopped = true;
    this.attempts++;
    this.clock.clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = undefined;
    this.connectionGone();
    socket?.close(1000, 'console left');
    this.setState({ phase: 'idle' });
  }

  /**
   * A new display name, told to the registry on this connection (update_presence): the project
   * sees the rename while the connection, and every link, stays. Every later hello carries it.
   */
  setDisplayName(name: string): void {
    this.displayName = name;
    this.send({ type: 'update_presence', display_name: name });
  }

  /** Sends a signaling payload to a peer; false when not connected (the caller retries later). Paced: it may wait its turn. */
  sendSignal(type: SignalType, toPeerId: string, payload: Uint8Array): boolean {
    return this.send({ type, to_peer_id: toPeerId, payload });
  }

  /** Sends a sealed relay blob to a peer; false when not connected. */
  sendRelay(toPeerId: string, payload: Uint8Array): boolean {
    return this.send({ type: 'relay', to_peer_id: toPeerId, payload });
  }

  /** Bytes queued in the WebSocket and not yet sent (for relay flow control). */
  get bufferedAmount(): number {
    return this.socket?.bufferedAmount ?? 0;
  }

  private send(frame: ClientFrame): boolean {
    if (this.socket?.readyState !== SOCKET_OPEN || (this.current.phase !== 'connected' && frame.type !== 'hello')) return false;
    // Relay frames have their own, much larger, frame budget at the registry (and a byte budget it
    // reports); everything else waits for the connection's bucket.
    if (frame.type === 'relay') this.transmit(frame);
    else this.pacer.send(frame, frame.type === 'ping');
    return true;
  }

  private transmit(frame: ClientFrame): void {
    if (this.socket?.readyState === SOCKET_OPEN) this.socket.send(encodeFrame(frame));
  }

  /** What belonged to the connection that ended: its queue and its keepalive. */
  private connectionGone(): void {
    this.clock.clearTimeout(this.connectionDeadline);
    this.pacer.clear();
    this.keepalive?.stop();
    this.keepalive = undefined;
  }

  /** The socket stopped answering (keepalive.ts): give it up without waiting for a close that may never come. */
  private abandon(socket: WebSocket, silentMs: number, what = 'no answer from the registry'): void {
    if (this.socket !== socket || this.stopped) return;
    this.socket = undefined;
    this.connectionGone();
    socket.onmessage = socket.onclose = null;
    try {
      socket.close(4000, 'no answer');
    } catch {
      // already closing
    }
    this.scheduleRetry(`${what} for ${Math.round(silentMs / 1000)} s: the connection was dead`);
  }

  private connect(): void {
    // After a failure, the next instance of the registry (if several are known).
    if (this.attempt > 0) this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    this.attempt++;
    this.lastError = undefined;
    this.setState({ phase: 'connecting', attempt: this.attempt });
    const attempt = ++this.attempts;
    void this.earlyHelloProtocols().then((protocols) => {
      if (attempt === this.attempts && !this.stopped) this.open(protocols);
    });
  }

  /**
   * The subprotocols to offer: `wsp`, and the hello itself with its own nonce (early-hello.ts),
   * so that the registry can welcome this console without a challenge first. Without it (signing
   * failed, or the hello is too long for a header) the registry's challenge is answered instead.
   */
  private async earlyHelloProtocols(): Promise<string[]> {
    if (!this.options.signEarlyHello) return [SIGNALING_SUBPROTOCOL];
    const at = Date.now(); // the registry's clock is what it is compared with, not this page's monotonic one
    const salt = crypto.getRandomValues(new Uint8Array(16));
    try {
      const nonceSig = await this.options.signEarlyHello(earlyHelloPayload(at, salt));
      this.helloName = this.displayName;
      return earlyHelloProtocols({ ...this.hello(nonceSig), early_at: at, early_salt: salt });
    } catch {
      return [SIGNALING_SUBPROTOCOL];
    }
  }

  private hello(nonceSig: Uint8Array): HelloFrame {
    return {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      invite: this.options.invite,
      display_name: this.displayName,
      signing_key: this.options.signingPublicKey,
      box_key: this.options.boxPublicKey,
      box_key_sig: this.options.boxKeySignature,
      ...(this.options.sessionCertificate ? { session_cert: this.options.sessionCertificate } : {}),
      ...(this.options.client ? { client: this.options.client } : {}),
      nonce_sig: nonceSig,
    };
  }

  private open(protocols: string[]): void {
    let socket: WebSocket;
    try {
      socket = (this.options.createSocket ?? ((url, offered) => new WebSocket(url, offered)))(this.url, protocols);
    } catch (error) {
      this.scheduleRetry(`cannot open ${this.url}: ${(error as Error).message}`);
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    const deadline = this.clock.setTimeout(() => {
      if (this.socket === socket && this.current.phase !== 'connected') this.abandon(socket, WELCOME_DEADLINE_MS, 'no welcome from the registry');
    }, WELCOME_DEADLINE_MS);
    this.connectionDeadline = deadline;
    // A failed connection reports an error and then a close; the close decides what happens next.
    socket.onerror = () => undefined;
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.keepalive?.heard();
      if (!(event.data instanceof ArrayBuffer)) return;
      const decoded = decodeServerFrame(new Uint8Array(event.data));
      if (!decoded.ok) {
        this.emit('error', { code: 'BAD_FRAME', message: `registry sent ${decoded.message}` });
        return;
      }
      void this.onFrame(socket, decoded.frame);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.connectionGone();
      if (this.stopped) return;
      const error = this.lastError ?? errorForClose(event.code, event.reason);
      if (error && FINAL_CODES.has(error.code)) {
        this.stopped = true;
        this.setState({ phase: 'rejected', code: error.code, message: error.message });
        return;
      }
      this.scheduleRetry(error ? `${error.code}: ${error.message}` : `connection closed (${event.code})`);
    };
  }

  private async onFrame(socket: WebSocket, frame: ServerFrame): Promise<void> {
    switch (frame.type) {
      case 'challenge': {
        if (frame.protocol !== PROTOCOL_VERSION) {
          this.lastError = { code: 'PROTOCOL_UNSUPPORTED', message: `the registry speaks protocol ${frame.protocol}, this console ${PROTOCOL_VERSION}` };
          socket.close();
          return;
        }
        const nonceSig = await this.options.signChallenge(frame.nonce);
        if (this.socket !== socket) return;
        this.helloName = this.displayName;
        this.send(this.hello(nonceSig));
        return;
      }
      case 'welcome': {
        // Connected: the next failure moves on to the next instance (attempt > 0).
        this.attempt = 0;
        this.clock.clearTimeout(this.connectionDeadline);
        const { frames_per_second: framesPerSecond, burst, heartbeat_ms: heartbeatMs } = frame.limits;
        this.framesPerSecond = framesPerSecond;
        this.pacer.setLimits(framesPerSecond, burst);
        this.keepalive?.stop();
        this.keepalive = new Keepalive({
          heartbeatMs,
          clock: this.clock,
          ping: () => this.send({ type: 'ping' }),
          dead: (silentMs) => this.abandon(socket, silentMs),
        });
        this.setState({ phase: 'connected', since: this.clock.now() });
        this.emit('welcome', frame);
        // Renamed while the hello was on its way.
        if (this.helloName !== this.displayName) this.setDisplayName(this.displayName);
        return;
      }
      case 'pong':
        return; // its arrival is what counted (keepalive)
      case 'peer_joined':
        this.emit('peer_joined', frame.peer);
        return;
      case 'peer_left':
        this.emit('peer_left', { peerId: frame.peer_id, reason: frame.reason });
        return;
      case 'error':
        if (ERRORS[frame.code as ErrorCode]?.close != null) this.lastError = { code: frame.code, message: frame.message };
        else if (frame.code === 'BAD_FRAME' && frame.ref_type === 'update_presence') {
          // A registry older than update_presence: connect again, and the hello carries the new
          // name (links that are up stay up meanwhile; only "online since" restarts).
          socket.close(1000, 'renamed');
        } else if (frame.code === 'BAD_FRAME' && frame.ref_type === 'ping') {
          // A registry from before the keepalive: its answer shows the socket alive, but stop asking
          // (each ping would count as a bad frame there).
          this.keepalive?.stop();
          this.keepalive = undefined;
        } else {
          if (frame.code === 'RATE_LIMITED') this.pacer.drain();
          this.emit('error', {
            code: frame.code,
            message: frame.message,
            ...(frame.ref_type ? { refType: frame.ref_type } : {}),
            ...(frame.ref_peer_id ? { refPeerId: frame.ref_peer_id } : {}),
          });
        }
        return;
      case 'relay':
        this.emit('relay', frame);
        return;
      case 'relay_usage':
        this.emit('relay_usage', frame);
        return;
      case 'ice_servers':
        this.emit('ice_servers', { servers: frame.ice_servers, expiresAt: frame.expires_at });
        return;
      default:
        this.emit('signal', frame);
    }
  }

  private scheduleRetry(reason: string): void {
    const delay = backoffDelay(this.attempt, this.options.backoff ?? DEFAULT_BACKOFF, this.options.random);
    this.setState({ phase: 'reconnecting', attempt: this.attempt, retryAt: this.clock.now() + delay, reason });
    this.retryTimer = this.clock.setTimeout(() => {
      if (!this.stopped) this.connect();
    }, delay);
  }

  private setState(state: RegistryState): void {
    this.current = state;
    this.emit('state', state);
  }
}

function errorForClose(code: number, reason: string): { code: string; message: string } | undefined {
  const known = Object.entries(ERRORS).find(([name, e]) => e.close === code && (reason === '' || reason === name));
  return known ? { code: known[0], message: known[1].text } : undefined;
}
