/**
 * Just enough of an RTCPeerConnection for a PeerLink in Node: it makes an offer and lets a test
 * drive ICE states by hand. It never finds a direct path.
 */
export class StubConnection {
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  signalingState = 'stable';
  iceConnectionState = 'new';
  connectionState = 'new';
  iceGatheringState = 'new';
  onnegotiationneeded: (() => unknown) | null = null;
  onicecandidate: ((event: { candidate: unknown }) => unknown) | null = null;
  oniceconnectionstatechange: (() => unknown) | null = null;
  onconnectionstatechange: (() => unknown) | null = null;
  createDataChannel() {
    return { binaryType: 'arraybuffer', readyState: 'connecting', close() {} };
  }
  async setLocalDescription() {
    this.localDescription = { type: 'offer', sdp: 'v=0\r\n' };
    this.signalingState = 'have-local-offer';
  }
  getConfiguration() {
    return {};
  }
  setConfiguration() {}
  close() {}
}

/**
 * A StubConnection whose DataChannel opens when the test says (`open()`), over a selected pair
 * whose local candidate type and RTT the test sets; it counts getStats reads and ICE restarts.
 */
export class OpeningConnection extends StubConnection {
  reads = 0;
  restarts = 0;
  sctp = { maxMessageSize: 256 * 1024 };
  channel: { readyState: string; onopen: (() => void) | null; bufferedAmount: number; bufferedAmountLowThreshold: number; binaryType: string; send(): void; close(): void } | undefined;
  constructor(
    public localType: 'host' | 'srflx' | 'relay' = 'host',
    /** Seconds, as getStats has it. */
    public rtt = 0.02,
  ) {
    super();
  }
  override createDataChannel() {
    this.channel = { readyState: 'connecting', onopen: null, bufferedAmount: 0, bufferedAmountLowThreshold: 0, binaryType: 'arraybuffer', send() {}, close() {} };
    return this.channel;
  }
  open(): void {
    this.iceConnectionState = 'connected';
    this.channel!.readyState = 'open';
    this.channel!.onopen?.();
  }
  restartIce(): void {
    this.restarts++;
  }
  async getStats() {
    this.reads++;
    return new Map<string, object>([
      ['t', { type: 'transport', selectedCandidatePairId: 'p' }],
      ['p', { type: 'candidate-pair', id: 'p', localCandidateId: 'l', remoteCandidateId: 'r', currentRoundTripTime: this.rtt }],
      ['l', { type: 'local-candidate', candidateType: this.localType, address: '198.51.100.1', port: 50000, protocol: 'udp', relayProtocol: 'udp' }],
      ['r', { type: 'remote-candidate', candidateType: 'srflx', address: '203.0.113.7', port: 40000, protocol: 'udp' }],
    ]);
  }
}
