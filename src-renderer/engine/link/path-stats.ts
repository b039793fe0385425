/** Reads which ICE candidate pair a connection uses, from getStats(): the link's path and RTT; and, for diagnostics, every candidate and pair. */
import type { CandidateInfo, CandidatePairInfo } from './link-types';

export type PathKind = 'host' | 'srflx' | 'prflx' | 'turn' | 'registry-relay';

export interface PathInfo {
  kind: PathKind;
  /** Transport between this console and its first hop: udp/tcp, or for TURN the protocol to the TURN server (udp/tcp/tls). */
  protocol?: string;
  /**
   * Address family of the candidate pair (both candidates of a pair share one). For TURN it is the
   * relayed address's: a console may reach the TURN server over IPv6 and be relayed over IPv4.
   */
  family?: 'IPv4' | 'IPv6';
  local?: string;
  remote?: string;
  rttMs?: number;
}

interface CandidateStats {
  candidateType?: string;
  protocol?: string;
  relayProtocol?: string;
  address?: string;
  port?: number;
}

/** The selected pair's path, or undefined while none is selected. */
export async function readSelectedPath(pc: RTCPeerConnection): Promise<PathInfo | undefined> {
  const report = await pc.getStats();
  let pairId: string | undefined;
  report.forEach((stat: { type: string; selectedCandidatePairId?: string }) => {
    if (stat.type === 'transport' && stat.selectedCandidatePairId) pairId = stat.selectedCandidatePairId;
  });
  if (!pairId) {
    // Fallback for stacks without transport stats: the nominated, succeeded pair.
    report.forEach((stat: { type: string; id: string; nominated?: boolean; state?: string }) => {
      if (!pairId && stat.type === 'candidate-pair' && stat.nominated && stat.state === 'succeeded') pairId = stat.id;
    });
  }
  const pair = pairId ? (report.get(pairId) as { localCandidateId: string; remoteCandidateId: string; currentRoundTripTime?: number } | undefined) : undefined;
  if (!pair) return undefined;
  const local = report.get(pair.localCandidateId) as CandidateStats | undefined;
  const remote = report.get(pair.remoteCandidateId) as CandidateStats | undefined;
  if (!local || !remote) return undefined;
  // Either side relaying through TURN makes the path TURN; otherwise the local candidate's type
  // says how this side reaches the peer (host, server-reflexive or peer-reflexive).
  const viaTurn = local.candidateType === 'relay' || remote.candidateType === 'relay';
  const kind: PathKind = viaTurn ? 'turn' : ((['host', 'srflx', 'prflx'] as const).find((t) => t === local.candidateType) ?? 'host');
  const protocol = local.candidateType === 'relay' ? (local.relayProtocol ?? local.protocol) : local.protocol;
  // The remote address may be hidden (a peer-reflexive candidate's), never both.
  const family = familyOf(local.address) ?? familyOf(remote.address);
  return {
    kind,
    ...(protocol ? { protocol } : {}),
    ...(family ? { family } : {}),
    ...(local.address ? { local: `${local.address}:${local.port}` } : {}),
    ...(remote.address ? { remote: `${remote.address}:${remote.port}` } : {}),
    ...(pair.currentRoundTripTime !== undefined ? { rttMs: pair.currentRoundTripTime * 1000 } : {}),
  };
}

/** IPv4 or IPv6 for an address in candidate stats; undefined for none or an mDNS name. */
function familyOf(address: string | undefined): PathInfo['family'] {
  if (!address || address.endsWith('.local')) return undefined;
  return address.includes(':') ? 'IPv6' : 'IPv4';
}

const PATH_LABELS: Record<PathKind, string> = {
  host: 'direct (host)',
  srflx: 'direct (srflx)',
  prflx: 'direct (prflx)',
  turn: 'TURN',
  'registry-relay': 'registry relay',
};

/** How the peer row names a path: `direct (srflx) · IPv6`, `TURN tls · IPv4`, `registry relay`. */
export function pathLabel(path: PathInfo): string {
  const label = PATH_LABELS[path.kind] ?? path.kind;
  const withProtocol = path.kind === 'turn' && path.protocol ? `${label} ${path.protocol}` : label;
  return path.family ? `${withProtocol} · ${path.family}` : withProtocol;
}

/**
 * Diagnostics (like chrome://webrtc-internals): the ICE candidates on both sides and the candidate
 * pairs with their state. Addresses are included; no credentials are.
 */
export async function readCandidates(pc: RTCPeerConnection): Promise<{ candidates: CandidateInfo[]; pairs: CandidatePairInfo[] }> {
  const candidates: CandidateInfo[] = [];
  const pairs: CandidatePairInfo[] = [];
  try {
    const report = await pc.getStats();
    report.forEach((stat: Record<string, unknown>) => {
      if (stat.type === 'local-candidate' || stat.type === 'remote-candidate') {
        candidates.push({
          side: stat.type === 'local-candidate' ? 'local' : 'remote',
          type: String(stat.candidateType ?? ''),
          protocol: String(stat.protocol ?? ''),
          ...(stat.relayProtocol ? { relayProtocol: String(stat.relayProtocol) } : {}),
          address: `${String(stat.address ?? stat.ip ?? '?')}:${String(stat.port ?? '?')}`,
        });
      } else if (stat.type === 'candidate-pair') {
        pairs.push({ state: String(stat.state ?? ''), nominated: Boolean(stat.nominated), ...(typeof stat.currentRoundTripTime === 'number' ? { rttMs: stat.currentRoundTripTime * 1000 } : {}) });
      }
    });
  } catch {
    // a closing connection has no stats
  }
  return { candidates, pairs };
}
