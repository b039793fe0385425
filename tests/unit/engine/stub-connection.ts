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
