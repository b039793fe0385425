/**
 * The path a link reports from getStats() and how the peer row names it (issue 20): the pair's
 * address family, and TURN over TLS as `tls` (Chromium's local relay candidate says
 * relayProtocol 'tls' for a `turns:` server).
 */
import { describe, expect, it } from 'vitest';
import { pathLabel, readSelectedPath } from '../../../src-renderer/engine/link/path-stats';

type Candidate = { candidateType: string; protocol: string; address?: string; port: number; relayProtocol?: string };

/** An RTCPeerConnection whose getStats() holds one selected pair of these two candidates. */
function connectionWith(local: Candidate, remote: Candidate): RTCPeerConnection {
  const stats = new Map<string, object>([
    ['T1', { type: 'transport', id: 'T1', selectedCandidatePairId: 'P1' }],
    ['P1', { type: 'candidate-pair', id: 'P1', localCandidateId: 'L1', remoteCandidateId: 'R1', nominated: true, state: 'succeeded', currentRoundTripTime: 0.012 }],
    ['L1', { type: 'local-candidate', id: 'L1', ...local }],
    ['R1', { type: 'remote-candidate', id: 'R1', ...remote }],
  ]);
  return { getStats: async () => stats } as unknown as RTCPeerConnection;
}

describe('readSelectedPath', () => {
  it('says IPv6 for a pair of IPv6 host candidates and IPv4 for server-reflexive IPv4 ones', async () => {
    const v6 = await readSelectedPath(connectionWith({ candidateType: 'host', protocol: 'udp', address: '2001:db8:1::2', port: 50000 }, { candidateType: 'host', protocol: 'udp', address: '2001:db8:2::2', port: 50001 }));
    expect(v6).toEqual({ kind: 'host', protocol: 'udp', family: 'IPv6', local: '2001:db8:1::2:50000', remote: '2001:db8:2::2:50001', rttMs: 12 });
    const v4 = await readSelectedPath(connectionWith({ candidateType: 'srflx', protocol: 'udp', address: '198.51.100.11', port: 40000 }, { candidateType: 'srflx', protocol: 'udp', address: '198.51.100.12', port: 40001 }));
    expect(v4).toMatchObject({ kind: 'srflx', family: 'IPv4' });
  });

  it('names TURN over TLS by the relay protocol, with the relayed address’s family; a hidden remote address leaves the local one to tell', async () => {
    const path = await readSelectedPath(connectionWith({ candidateType: 'relay', protocol: 'udp', relayProtocol: 'tls', address: '198.51.100.1', port: 49200 }, { candidateType: 'prflx', protocol: 'udp', port: 40001 }));
    expect(path).toMatchObject({ kind: 'turn', protocol: 'tls', family: 'IPv4', local: '198.51.100.1:49200' });
    expect(path?.remote).toBeUndefined();
  });

  it('gives no family for an mDNS name alone', async () => {
    const path = await readSelectedPath(connectionWith({ candidateType: 'host', protocol: 'udp', address: '0f6b0e1c-2d3e.local', port: 1 }, { candidateType: 'prflx', protocol: 'udp', port: 2 }));
    expect(path?.family).toBeUndefined();
  });
});

describe('pathLabel (the peer row)', () => {
  it('names the kind, the TURN protocol and the family', () => {
    expect(pathLabel({ kind: 'turn', protocol: 'tls', family: 'IPv4' })).toBe('TURN tls · IPv4');
    expect(pathLabel({ kind: 'host', protocol: 'udp', family: 'IPv6' })).toBe('direct (host) · IPv6');
    expect(pathLabel({ kind: 'srflx', protocol: 'udp' })).toBe('direct (srflx)');
    expect(pathLabel({ kind: 'registry-relay' })).toBe('registry relay');
  });
});
