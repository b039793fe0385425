/**
 * The W3C RTCPeerConnection the link engine expects, in Node: node-datachannel's polyfill
 * (libdatachannel) with the gaps the link would trip over filled in here, so the engine itself stays
 * browser code. Each difference is probed by tests/unit/agent/node-datachannel.test.ts and described
 * in docs/PEER-PROTOCOL.md ("Node peers (node-datachannel)").
 *
 * - `negotiationneeded` never fires in the polyfill: libdatachannel sets the offer by itself when the
 *   first channel is created. It is fired here (a microtask later, as a browser queues it), so the
 *   link's perfect negotiation sends that offer.
 * - `localDescription`/`remoteDescription` are never null in the polyfill (an empty description
 *   stands for none), which would make the link add candidates before the offer and never offer
 *   after waiting: null here when there is none.
 * - `setConfiguration` is stored but never reaches libdatachannel: here it refuses a change of ICE
 *   servers or policy (InvalidModificationError, as the spec allows), so the link makes a fresh
 *   connection instead of trusting one without its TURN servers.
 * - `getStats()` names the address `ip`, has no `protocol`, and gives the RTT in milliseconds (-1
 *   when unknown): completed here with `address`, `protocol` and `currentRoundTripTime` in seconds.
 *   That RTT is SCTP's smoothed round trip, not ICE's: on a quiet link it counts the other end's
 *   delayed acknowledgements (tens of ms where a browser reads 1), so the console's graph prefers
 *   a console's figure to an agent's (graph-edges.ts).
 * - `restartIce()` throws (libdatachannel has no ICE restart): left as it is; the link copes.
 * - TURN credentials: the polyfill writes them into a URL as they are (`turn:USER:PASS@host`) and
 *   libdatachannel cuts the user name at its first colon, while the registry's REST user names are
 *   `<expiry>:<peer_id>` — coturn answered 401 and the agent never had a TURN allocation (a peer
 *   with TURN still reached it; two agents behind symmetric NATs would not have linked).
 *   libdatachannel URL-decodes both fields, so they are percent-encoded here.
 */
import { RTCPeerConnection as PolyfillPeerConnection } from 'node-datachannel/polyfill';

export interface NodePeerConnectionOptions {
  /**
   * Gather on this address only. libjuice leaves loopback out of the host candidates it gathers,
   * so two peers on one machine without another interface need `127.0.0.1` here.
   */
  bindAddress?: string;
  /** UDP ports to gather on (a firewall may allow only some). */
  portRange?: { begin: number; end: number };
}

// Typed as the DOM class, whose descriptions may be null (the polyfill's typings say otherwise).
const Base = PolyfillPeerConnection as unknown as typeof globalThis.RTCPeerConnection;

class NodePeerConnection extends Base {
  private readonly iceKey: string;

  constructor(configuration: RTCConfiguration, options: NodePeerConnectionOptions) {
    const native = {
      ...configuration,
      ...(configuration.iceServers ? { iceServers: configuration.iceServers.map(encodeCredentials) } : {}),
      ...(options.bindAddress ? { bindAddress: options.bindAddress } : {}),
      ...(options.portRange ? { portRangeBegin: options.portRange.begin, portRangeEnd: options.portRange.end } : {}),
    };
    super(native);
    this.iceKey = iceKey(configuration);
  }

  override get localDescription(): RTCSessionDescription | null {
    const description = super.localDescription;
    return description?.type ? description : null;
  }

  override get remoteDescription(): RTCSessionDescription | null {
    const description = super.remoteDescription;
    return description?.type ? description : null;
  }

  override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
    const before = this.signalingState;
    const channel = super.createDataChannel(label, init);
    if (before === 'stable' && this.signalingState === 'have-local-offer') {
      queueMicrotask(() => this.signalingState !== 'closed' && this.dispatchEvent(new Event('negotiationneeded')));
    }
    return channel;
  }

  override setConfiguration(configuration: RTCConfiguration): void {
    if (iceKey(configuration) !== this.iceKey) {
      throw new DOMException('node-datachannel cannot change the ICE servers or policy of a connection', 'InvalidModificationError');
    }
    super.setConfiguration(configuration);
  }

  override async getStats(): Promise<RTCStatsReport> {
    const report = (await super.getStats()) as unknown as Map<string, Record<string, unknown>>;
    const pair = (this as unknown as PolyfillPeerConnection).selectedCandidatePair();
    for (const stat of report.values()) {
      if (stat.type === 'local-candidate' || stat.type === 'remote-candidate') {
        const side = stat.type === 'local-candidate' ? pair?.local : pair?.remote;
        stat.address ??= stat.ip;
        if (side) stat.protocol ??= side.transportType.toLowerCase().startsWith('tcp') ? 'tcp' : 'udp';
      } else if (stat.type === 'candidate-pair') {
        const rttMs = stat.currentRoundTripTime;
        if (typeof rttMs === 'number' && rttMs >= 0) stat.currentRoundTripTime = stat.totalRoundTripTime = rttMs / 1000;
        else delete stat.currentRoundTripTime;
      }
    }
    return report as unknown as RTCStatsReport;
  }
}

/** The `createPeerConnection` the engine takes (LinkManager, createConsoleSession), for Node. */
export function nodePeerConnectionFactory(options: NodePeerConnectionOptions = {}): (configuration: RTCConfiguration) => RTCPeerConnection {
  return (configuration) => new NodePeerConnection(configuration, options);
}

/** Escapes what libdatachannel's URL parser would split on (it decodes them again). */
function encodeCredentials(server: RTCIceServer): RTCIceServer {
  return {
    ...server,
    ...(server.username ? { username: encodeURIComponent(server.username) } : {}),
    ...(typeof server.credential === 'string' && server.credential ? { credential: encodeURIComponent(server.credential) } : {}),
  };
}

function iceKey(c: RTCConfiguration): string {
  return JSON.stringify([(c.iceServers ?? []).map((s) => [[s.urls].flat(), s.username ?? '', s.credential ?? '']), c.iceTransportPolicy ?? 'all']);
}
