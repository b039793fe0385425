/**
 * An RTCPeerConnection's signaling as the spec has it, enough to run two PeerLinks' perfect
 * negotiation against each other in Node: offer and answer by state (an offer set on top of our own
 * rolls it back, an answer out of turn is refused), operations one at a time in call order,
 * candidates gathered once the first description is set (one ICE username fragment per connection:
 * ICE restarts are not modelled; as in browsers, the local description's SDP also holds the
 * candidates gathered so far), and ICE `checking` once both descriptions are set and a candidate
 * of the peer's (the same username fragment as its description) was added — what "ICE activity" is here.
 */
let made = 0;

type Description = { type: 'offer' | 'answer'; sdp: string };
type Candidate = { candidate: string; sdpMid: string; sdpMLineIndex: number; usernameFragment: string };

export class NegotiatingConnection {
  /** How long each operation takes (real ms): a starved renderer's are slow, letting signaling overtake them. */
  static latency: () => number = () => 0;
  readonly ufrag = `ufrag${++made}`;
  localDescription: Description | null = null;
  remoteDescription: Description | null = null;
  signalingState: RTCSignalingState = 'stable';
  iceConnectionState: RTCIceConnectionState = 'new';
  connectionState = 'new';
  iceGatheringState: RTCIceGatheringState = 'new';
  onnegotiationneeded: (() => unknown) | null = null;
  onicecandidate: ((event: { candidate: Candidate | null }) => unknown) | null = null;
  oniceconnectionstatechange: (() => unknown) | null = null;
  onconnectionstatechange: (() => unknown) | null = null;
  /** What happened to it, for a failing test's message. */
  readonly log: string[] = [];
  readonly remoteCandidates: string[] = [];
  closed = false;
  private gatheredLines = '';
  private currentLocal: Description | null = null;
  private operations: Promise<unknown> = Promise.resolve();

  createDataChannel() {
    return { binaryType: 'arraybuffer', readyState: 'connecting', close() {} };
  }

  setLocalDescription(): Promise<void> {
    return this.enqueue('setLocalDescription', () => {
      const type = this.signalingState === 'have-remote-offer' ? 'answer' : 'offer';
      this.localDescription = { type, sdp: `v=0\r\na=ice-ufrag:${this.ufrag}\r\n${this.gatheredLines}` };
      if (type === 'answer') {
        this.currentLocal = this.localDescription;
        this.signalingState = 'stable';
      } else this.signalingState = 'have-local-offer';
      this.gather();
      this.checkIce();
    });
  }

  setRemoteDescription(description: Description): Promise<void> {
    return this.enqueue(`setRemoteDescription(${description.type} ${ufragOf(description)})`, () => {
      if (description.type === 'answer') {
        if (this.signalingState !== 'have-local-offer') throw new DOMException(`answer in state ${this.signalingState}`, 'InvalidStateError');
        this.currentLocal = this.localDescription;
        this.signalingState = 'stable';
      } else {
        if (this.signalingState === 'have-local-offer') this.localDescription = this.currentLocal; // implicit rollback
        this.signalingState = 'have-remote-offer';
      }
      this.remoteDescription = description;
      if (description.sdp.includes('a=candidate:')) this.remoteCandidates.push(ufragOf(description));
      this.checkIce();
    });
  }

  addIceCandidate(candidate: Partial<Candidate>): Promise<void> {
    return this.enqueue(`addIceCandidate(${candidate.usernameFragment ?? 'end'})`, () => {
      if (!this.remoteDescription) throw new DOMException('no remote description', 'InvalidStateError');
      if (!candidate.candidate) return;
      if (candidate.usernameFragment !== ufragOf(this.remoteDescription)) throw new DOMException(`unknown ufrag ${candidate.usernameFragment}`, 'OperationError');
      this.remoteCandidates.push(candidate.usernameFragment);
      this.checkIce();
    });
  }

  getConfiguration() {
    return {};
  }
  setConfiguration() {}
  restartIce() {}
  close() {
    this.closed = true;
    this.log.push('close');
  }

  /** The peer's connection this one is paired with, when ICE could run between them. */
  get pairedWith(): string | undefined {
    return this.iceConnectionState === 'checking' && this.remoteDescription ? ufragOf(this.remoteDescription) : undefined;
  }

  private enqueue(name: string, operation: () => void): Promise<void> {
    const run = this.operations.then(async () => {
      const ms = NegotiatingConnection.latency();
      await (ms > 0 ? new Promise((done) => setTimeout(done, ms)) : Promise.resolve());
      if (this.closed) throw new DOMException('closed', 'InvalidStateError');
      try {
        operation();
        this.log.push(name);
      } catch (error) {
        this.log.push(`${name} failed: ${(error as Error).message}`);
        throw error;
      }
    });
    this.operations = run.catch(() => undefined);
    return run;
  }

  private gather(): void {
    if (this.iceGatheringState !== 'new') return;
    this.iceGatheringState = 'gathering';
    setTimeout(() => {
      if (this.closed) return;
      const candidate = 'candidate:1 1 udp 1 127.0.0.1 5000 typ host';
      this.gatheredLines += `a=${candidate}\r\n`;
      if (this.localDescription) this.localDescription = { ...this.localDescription, sdp: `${this.localDescription.sdp}a=${candidate}\r\n` };
      this.onicecandidate?.({ candidate: { candidate, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: this.ufrag } });
      this.iceGatheringState = 'complete';
      this.onicecandidate?.({ candidate: null });
    }, 0);
  }

  private checkIce(): void {
    if (this.iceConnectionState !== 'new' || this.signalingState !== 'stable' || !this.localDescription || !this.remoteDescription) return;
    if (!this.remoteCandidates.includes(ufragOf(this.remoteDescription))) return;
    this.iceConnectionState = 'checking';
    this.log.push('ice checking');
    this.oniceconnectionstatechange?.();
  }
}

function ufragOf(description: Description): string {
  return /a=ice-ufrag:(\S+)/.exec(description.sdp)?.[1] ?? '?';
}
