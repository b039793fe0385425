/**
 * Opt-in WebRTC event trace for the setup benchmark (bench/peerjs.bench.ts, BENCH_SETUP_TRACE=1),
 * installed in a page (ours or PeerJS's) before it makes any connection: it swaps the page's
 * RTCPeerConnection and WebSocket for subclasses that note, on one clock shared by every page of the
 * browser (epoch ms, sub-ms), each step of a connection's setup — descriptions made and applied,
 * candidates, ICE (the connection's), DTLS and SCTP transport states, the DataChannel open — and
 * signaling in and out.
 * Listeners are added in the constructors, so they run before the code under test's own.
 */

export interface TraceEvent {
  /** Epoch ms (performance.timeOrigin + performance.now()). */
  t: number;
  /** Which RTCPeerConnection of the page (0, 1, …); -1 for page-level marks. */
  pc: number;
  ev: string;
}

const now = () => performance.timeOrigin + performance.now();
let events: TraceEvent[] = [];
let installed = false;
/** Binary WebSocket frames (ours) in and out since the last take: numbered, as they carry no readable type. */
let binaryIn = 0;
let binaryOut = 0;
const pcs: RTCPeerConnection[] = [];

export function mark(ev: string, pc = -1): void {
  if (installed) events.push({ t: now(), pc, ev });
}

/** Everything noted since the last call (and forgets it). */
export function takeTrace(): TraceEvent[] {
  const taken = events;
  events = [];
  binaryIn = binaryOut = 0;
  return taken;
}

/** getStats of the page's connections that are still open: DTLS role and version, candidates (for reading a trace). */
export async function traceStats(): Promise<Array<{ pc: number; transport: Record<string, unknown>[]; candidates: string[] }>> {
  const out = [];
  for (const [index, pc] of pcs.entries()) {
    if (pc.connectionState === 'closed') continue;
    const transport: Record<string, unknown>[] = [];
    const candidates: string[] = [];
    (await pc.getStats()).forEach((r: Record<string, unknown>) => {
      if (r.type === 'transport') transport.push({ dtlsRole: r.dtlsRole, dtlsState: r.dtlsState, tlsVersion: r.tlsVersion, dtlsCipher: r.dtlsCipher, srtpCipher: r.srtpCipher, iceRole: r.iceRole });
      if (r.type === 'local-candidate' || r.type === 'remote-candidate') candidates.push(`${r.type} ${r.candidateType} ${r.protocol} ${r.address}:${r.port}`);
    });
    out.push({ pc: index, transport, candidates });
  }
  return out;
}

export function installTrace(): void {
  if (installed) return;
  installed = true;
  const NativePC = window.RTCPeerConnection;
  const watchChannel = (id: number, channel: RTCDataChannel) => channel.addEventListener('open', () => mark('dc.open', id));
  class TracedPC extends NativePC {
    private readonly traceId: number;
    private transportsWatched: boolean;
    constructor(configuration?: RTCConfiguration) {
      mark('pc.call', pcs.length); // the constructor is a synchronous trip to WebRTC's signaling thread
      super(configuration);
      const id = (this.traceId = pcs.push(this) - 1);
      this.transportsWatched = false;
      mark('pc.new', id);
      let candidates = 0;
      this.addEventListener('icecandidate', ({ candidate }) => mark(candidate ? (candidates++ ? 'cand.local.more' : 'cand.local.first') : 'cand.local.end', id));
      this.addEventListener('icegatheringstatechange', () => mark(`gather.${this.iceGatheringState}`, id));
      this.addEventListener('iceconnectionstatechange', () => mark(`ice.${this.iceConnectionState}`, id));
      this.addEventListener('connectionstatechange', () => mark(`conn.${this.connectionState}`, id));
      this.addEventListener('negotiationneeded', () => mark('negotiationneeded', id));
      this.addEventListener('datachannel', ({ channel }) => {
        mark('dc.remote', id);
        watchChannel(id, channel);
        if (channel.readyState === 'open') mark('dc.open', id);
      });
    }
    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      const channel = super.createDataChannel(label, init);
      mark('dc.create', this.traceId);
      watchChannel(this.traceId, channel);
      return channel;
    }
    override setLocalDescription(description?: RTCLocalSessionDescriptionInit): Promise<void> {
      const type = description?.type ?? (this.signalingState === 'have-remote-offer' ? 'answer' : 'offer');
      return this.timed(`sLD.${type}`, super.setLocalDescription(description));
    }
    override setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
      return this.timed(`sRD.${description.type}`, super.setRemoteDescription(description));
    }
    override addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
      return this.timed(candidate?.candidate ? 'addCand' : 'addCand.end', super.addIceCandidate(candidate ?? undefined));
    }
    timed<T>(name: string, promise: Promise<T>): Promise<T> {
      mark(`${name}.call`, this.traceId);
      void promise.then(
        () => {
          mark(`${name}.done`, this.traceId);
          this.watchTransports();
        },
        () => mark(`${name}.failed`, this.traceId),
      );
      return promise;
    }
    /** The SCTP, DTLS and ICE transports exist once a description with the data section is set. */
    private watchTransports(): void {
      const sctp = this.sctp;
      if (this.transportsWatched || !sctp) return;
      this.transportsWatched = true;
      const id = this.traceId;
      const dtls = sctp.transport;
      sctp.addEventListener('statechange', () => mark(`sctp.${sctp.state}`, id));
      dtls.addEventListener('statechange', () => mark(`dtls.${dtls.state}`, id));
      // Not dtls.iceTransport: touching it makes Chromium report its state through a task that
      // held the page's main thread 3.5 ms during the handshake (a Chromium trace, 2026-12-07).
      // The connection's own ICE events say enough.
    }
  }
  // createOffer/createAnswer have callback overloads a subclass cannot restate: patched on its prototype.
  for (const name of ['createOffer', 'createAnswer'] as const) {
    const native = NativePC.prototype[name] as (...args: unknown[]) => Promise<RTCSessionDescriptionInit>;
    (TracedPC.prototype as unknown as Record<string, unknown>)[name] = function (this: TracedPC, ...args: unknown[]) {
      return this.timed(name, native.apply(this, args));
    };
  }
  window.RTCPeerConnection = TracedPC as typeof RTCPeerConnection;

  // Signaling as it leaves and arrives (PeerJS: JSON frames with a type; ours is marked by the harness).
  const NativeWS = window.WebSocket;
  const send = NativeWS.prototype.send;
  const typeOf = (data: unknown) => {
    if (typeof data !== 'string') return undefined;
    try {
      return (JSON.parse(data) as { type?: string }).type;
    } catch {
      return undefined;
    }
  };
  NativeWS.prototype.send = function (this: WebSocket, data: string | ArrayBufferLike | Blob | ArrayBufferView) {
    const type = typeOf(data);
    if (type) mark(`sig.out.${type}`);
    else mark(`ws.out.${++binaryOut}`);
    return send.call(this, data);
  };
  class TracedWS extends NativeWS {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener('message', ({ data }) => {
        const type = typeOf(data);
        if (type) mark(`sig.in.${type}`);
        else mark(`ws.in.${++binaryIn}`);
      });
    }
  }
  window.WebSocket = TracedWS as typeof WebSocket;
}
