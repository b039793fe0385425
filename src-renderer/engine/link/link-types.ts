/**
 * A peer link's vocabulary: its configuration, what it needs from the registry connection
 * (`LinkPort`), its options, and what it reports (snapshots, diagnostics, error codes). PeerLink
 * (peer-link.ts) is the behaviour; its users mostly need only these types.
 */
import type { SessionCertificate } from '../../../src-shared/session-certificate';
import type { SignalType } from '../../../src-shared/protocol/signaling';
import type { BackoffPolicy } from '../backoff';
import type { Clock } from '../clock';
import type { PathInfo } from './path-stats';
import type { SignalKey } from './signal-key';
import type { SignalAuthOptions } from './signal-auth';
import type { ConnectionPreparer } from './prepared-connection';
import type { LinkState } from './link-state';

export type { LinkState } from './link-state';

export interface LinkConfig {
  iceServers: RTCIceServer[];
  iceTransportPolicy: RTCIceTransportPolicy;
  /** No DataChannel this long after negotiation starts → relay through the registry. */
  fallbackAfterMs: number;
  /** How long a side that does not offer first waits for the other's offer before offering itself. */
  offerWaitMs: number;
  /**
   * How long a connection holds back its host TCP candidates and its end-of-candidates, sending
   * them only if ICE has not connected by then (negotiation.ts); 0 sends every candidate at once.
   */
  holdCandidatesMs: number;
  /** `disconnected` this long → ICE restart. */
  disconnectGraceMs: number;
  /** While relayed, how often to try direct again. */
  directRetry: BackoffPolicy;
  /** Largest message accepted from the peer. */
  maxMessageBytes: number;
  /** Diagnostics and tests: drop every ICE candidate both ways, so no direct path can form. */
  blockDirect: boolean;
}

export const DEFAULT_LINK_CONFIG: LinkConfig = {
  iceServers: [],
  iceTransportPolicy: 'all',
  fallbackAfterMs: 10_000,
  offerWaitMs: 1_500,
  holdCandidatesMs: 1_000,
  disconnectGraceMs: 2_000,
  directRetry: { baseMs: 5_000, maxMs: 60_000 },
  maxMessageBytes: 64 * 1024 * 1024,
  blockDirect: false,
};

/** What a link needs from the registry connection. */
export interface LinkPort {
  sendSignal(type: SignalType, payload: Uint8Array): boolean;
  sendRelay(payload: Uint8Array): boolean;
  /** False while the registry socket has too much queued. */
  relayWritable(): boolean;
  /** The registry's max frame size (from welcome). */
  relayMaxFrameBytes(): number;
}

/** Who the link is between, and how its signaling is signed (signal-auth.ts), then the link's own. */
export interface PeerLinkOptions extends SignalAuthOptions {
  /** The peer's session certificate from presence, already verified against its identity key. */
  remoteCertificate?: SessionCertificate;
  /** The signaling key shared with that session (signal-key.ts), derived beside its check. */
  remoteSignalKey?: SignalKey;
  port: LinkPort;
  config?: Partial<LinkConfig>;
  createPeerConnection?: (configuration: RTCConfiguration) => RTCPeerConnection;
  /**
   * Whether this side offers as soon as the link starts (default: the impolite side). The manager
   * has a console that learns of a newcomer offer, from a connection prepared ahead, while the
   * newcomer, busy joining, waits. Glare is still resolved by politeness.
   */
  offersFirst?: boolean;
  /** Connections made ahead (prepared-connection.ts): one with its offer set, one bare for answering. */
  preparer?: Pick<ConnectionPreparer, 'take' | 'takeBare'>;
  /** Time and timers (tests drive them by hand); the system's by default. */
  clock?: Clock;
}

/** The RTCPeerConnection configuration of a link with this config. */
export function rtcConfiguration(config: Pick<LinkConfig, 'iceServers' | 'iceTransportPolicy'>): RTCConfiguration {
  return { iceServers: config.iceServers, iceTransportPolicy: config.iceTransportPolicy, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
}

export interface LinkHistoryEntry {
  at: number;
  event: string;
  detail: string;
}

export interface LinkSnapshot {
  peerId: string;
  state: LinkState;
  path?: PathInfo;
  rttMs?: number;
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  /** Stream frames sent again (after a lost path or a timeout) and duplicates received. */
  retransmittedFrames: number;
  duplicateFrames: number;
  iceConnectionState: string;
  connectionState: string;
  iceRestarts: number;
  reconnects: number;
  relayFallbacks: number;
  /** Signaling messages refused as forged or replayed: a sign of a tampering registry. */
  rejectedSignals: number;
  history: LinkHistoryEntry[];
  errors: Array<{ at: number; code: string; message: string }>;
}

export type LinkErrorCode =
  | 'BAD_SIGNAL'
  | 'SIGNAL_FORGED'
  | 'SIGNAL_REPLAYED'
  | 'RELAY_TAMPERED'
  | 'RELAY_REPLAYED'
  | 'RELAY_STALE_KEY'
  | 'MALFORMED_FRAME'
  | 'MESSAGE_TOO_LARGE'
  | 'BAD_MESSAGE'
  | 'NEGOTIATION_FAILED'
  | 'RELAY_OVER_BUDGET'
  | 'DATACHANNEL_ERROR';

export interface CandidateInfo {
  side: 'local' | 'remote';
  type: string;
  protocol: string;
  relayProtocol?: string;
  address: string;
}

export interface CandidatePairInfo {
  state: string;
  nominated: boolean;
  rttMs?: number;
}
