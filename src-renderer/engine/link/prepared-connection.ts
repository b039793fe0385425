/**
 * RTCPeerConnections made before any peer needs them. One for offering: its DataChannel is
 * created, its offer set and its candidates gathering, so the first offer to a newly seen peer goes
 * out at once, with the candidates gathered so far already in its SDP. One bare, for a link that
 * waits for the peer's offer: it is made before the console even joins (it gathers nothing, so it
 * cannot go stale) and given the link's ICE servers when taken, so a newcomer busy joining does
 * not spend the milliseconds of `new RTCPeerConnection` while the offer waits. (Making its channel
 * ahead too was measured: no difference.)
 *
 * Why: on this kind of machine, creating the connection, waiting for `negotiationneeded` and
 * setting the offer cost 4–9 ms of a 35–45 ms link setup, the first candidates followed the offer
 * by 2–5 ms more, and the newcomer's own `new RTCPeerConnection` took 3–12 ms while the offer
 * waited (docs/BENCHMARKS.md). The cost is two idle connections per console (and, with TURN
 * configured, one idle allocation); the offering one is replaced when it grows old or the ICE
 * servers change.
 */

/** The link's DataChannel: pre-negotiated (id 0) on both sides, so neither waits for the other's. */
export const CHANNEL_LABEL = 'workstream-v1';

export function createLinkChannel(pc: RTCPeerConnection): RTCDataChannel {
  return pc.createDataChannel(CHANNEL_LABEL, { negotiated: true, id: 0, ordered: true, protocol: CHANNEL_LABEL });
}

export interface PreparedConnection {
  pc: RTCPeerConnection;
  channel: RTCDataChannel;
  /** Settles once its offer is set; absent when it already is. */
  described?: Promise<void>;
}

/**
 * A connection asked for while links are being set up is made once none has begun for this long,
 * not among them: in a burst (consoles joining together) each link set up would otherwise push
 * another connection's creation and gathering into the busiest moment.
 */
export const SETTLE_MS = 250;
/**
 * A prepared connection is replaced at this age: its candidates (and TURN allocation) date from
 * when it was made, and the network may have changed since.
 */
const MAX_AGE_MS = 2 * 60_000;

interface Spare extends PreparedConnection {
  key: string;
  madeAt: number;
  ready: boolean;
}

export class ConnectionPreparer {
  private spare: Spare | undefined;
  private bare: { pc: RTCPeerConnection; key: string } | undefined;
  private bareTimer: ReturnType<typeof setTimeout> | undefined;
  /** The configuration of the bare connection about to be made, if one is. */
  private pendingBare: RTCConfiguration | undefined;
  /** The offering connection about to be made, if one is. */
  private pending: { key: string; configuration: RTCConfiguration } | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly create: (configuration: RTCConfiguration) => RTCPeerConnection,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keeps one connection prepared for this configuration, made after `delayMs`, replacing any other. */
  prepare(configuration: RTCConfiguration, delayMs = 0): void {
    const key = configurationKey(configuration);
    if (this.spare?.key === key && this.now() - this.spare.madeAt < MAX_AGE_MS) return;
    if (this.pending?.key === key) {
      if (delayMs > 0) this.makePendingIn(delayMs); // a link is being set up: not among it
      return;
    }
    this.discard();
    this.pending = { key, configuration };
    this.makePendingIn(delayMs);
  }

  private makePendingIn(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const pending = this.pending;
      this.pending = undefined;
      if (pending) this.make(pending.configuration, pending.key);
    }, delayMs);
  }

  /** The bare connection is made SETTLE_MS from now (again, if it was about to be). */
  private prepareBareLater(configuration: RTCConfiguration): void {
    clearTimeout(this.bareTimer);
    this.pendingBare = configuration;
    this.bareTimer = setTimeout(() => this.prepareBare(configuration), SETTLE_MS);
  }

  /**
   * The prepared connection, if it was made for this configuration and its offer is set; another
   * is prepared for the next peer. Undefined otherwise: the caller makes its own.
   */
  take(configuration: RTCConfiguration): PreparedConnection | undefined {
    const spare = this.spare;
    const usable = spare?.ready && spare.key === configurationKey(configuration) && this.now() - spare.madeAt < MAX_AGE_MS;
    if (usable) this.spare = undefined;
    // The caller is setting a link up: nothing is made among the links being set up.
    this.prepare(configuration, SETTLE_MS);
    if (this.pendingBare) this.prepareBareLater(this.pendingBare);
    return usable ? { pc: spare.pc, channel: spare.channel } : undefined;
  }

  /** A bare connection (no channel, no description) is made now, if none is ready. */
  prepareBare(configuration: RTCConfiguration): void {
    clearTimeout(this.bareTimer);
    this.pendingBare = undefined;
    if (this.bare) return;
    try {
      this.bare = { pc: this.create(configuration), key: configurationKey(configuration) };
    } catch {
      // a link creates its own connection and reports the error
    }
  }

  /** The bare connection with this configuration's ICE servers, if one is ready; the next is made in a moment. */
  takeBare(configuration: RTCConfiguration): RTCPeerConnection | undefined {
    const bare = this.bare;
    this.bare = undefined;
    if (this.pending) this.makePendingIn(SETTLE_MS);
    this.prepareBareLater(configuration);
    if (!bare) return undefined;
    const { pc } = bare;
    // setConfiguration is a synchronous trip to WebRTC's signaling thread (1–2 ms on a busy
    // renderer, measured): skipped when the bare connection was made with these ICE servers.
    if (bare.key === configurationKey(configuration)) return pc;
    try {
      pc.setConfiguration(configuration); // allowed before anything is gathered
      return pc;
    } catch {
      pc.close();
      return undefined;
    }
  }

  /** Closes every prepared connection (leaving the project). */
  close(): void {
    this.discard();
    clearTimeout(this.bareTimer);
    this.pendingBare = undefined;
    this.bare?.pc.close();
    this.bare = undefined;
  }

  /** Closes the offering connection, and prepares none (direct paths blocked). */
  discard(): void {
    clearTimeout(this.timer);
    this.pending = undefined;
    this.spare?.pc.close();
    this.spare = undefined;
  }

  private make(configuration: RTCConfiguration, key: string): void {
    let pc: RTCPeerConnection;
    try {
      pc = this.create(configuration);
    } catch {
      return; // a link creates its own connection and reports the error
    }
    const spare: Spare = { pc, channel: createLinkChannel(pc), key, madeAt: this.now(), ready: false };
    this.spare = spare;
    this.timer = setTimeout(() => this.spare === spare && this.prepare(configuration), MAX_AGE_MS);
    pc.setLocalDescription().then(
      () => void (spare.ready = this.spare === spare && pc.signalingState === 'have-local-offer'),
      () => this.spare === spare && this.discard(),
    );
  }
}

/**
 * A link's first connection, begun the moment its peer is known, while the peer's identity and
 * session certificate are being checked: when offering, its DataChannel created and its offer
 * being set; otherwise bare. Nothing from the peer touches it until the link exists, which is
 * after the checks, and the offer leaves only then. Without it a cold link (no connection
 * prepared ahead) made its connection, channel and offer only after the checks, one after the
 * other: on a quiet machine the checks take 0.3–1 ms and the connection with its offer 1.5–2.5 ms
 * (docs/BENCHMARKS.md). A prepared connection, when there is one, is taken instead.
 */
export class FirstConnection implements Pick<ConnectionPreparer, 'take' | 'takeBare'> {
  private made: { pc: RTCPeerConnection; channel?: RTCDataChannel; described?: Promise<void> } | undefined;

  private constructor(
    private readonly key: string,
    made: { pc: RTCPeerConnection; channel?: RTCDataChannel; described?: Promise<void> },
  ) {
    this.made = made;
  }

  /** Undefined if the connection could not be made (the link then makes its own, and reports why). */
  static begin(create: (configuration: RTCConfiguration) => RTCPeerConnection, configuration: RTCConfiguration, offers: boolean, prepared?: PreparedConnection | RTCPeerConnection): FirstConnection | undefined {
    const key = configurationKey(configuration);
    if (prepared) return new FirstConnection(key, 'pc' in prepared ? prepared : { pc: prepared });
    let pc: RTCPeerConnection;
    try {
      pc = create(configuration);
    } catch {
      return undefined;
    }
    if (!offers) return new FirstConnection(key, { pc });
    const channel = createLinkChannel(pc);
    const described = pc.setLocalDescription();
    described.catch(() => undefined); // reported by the link that takes it
    return new FirstConnection(key, { pc, channel, described });
  }

  take(configuration: RTCConfiguration): PreparedConnection | undefined {
    const made = this.made;
    this.made = undefined;
    if (!made?.channel || this.key !== configurationKey(configuration)) return void made?.pc.close();
    return { pc: made.pc, channel: made.channel, ...(made.described ? { described: made.described } : {}) };
  }

  takeBare(configuration: RTCConfiguration): RTCPeerConnection | undefined {
    const made = this.made;
    this.made = undefined;
    if (!made || made.channel || this.key !== configurationKey(configuration)) return void made?.pc.close();
    return made.pc;
  }

  /** Closes the connection if no link took it (the peer did not verify, or was held back). */
  close(): void {
    this.made?.pc.close();
    this.made = undefined;
  }
}

function configurationKey(c: RTCConfiguration): string {
  return JSON.stringify([c.iceServers ?? [], c.iceTransportPolicy ?? 'all', c.bundlePolicy ?? '', c.rtcpMuxPolicy ?? '']);
}
