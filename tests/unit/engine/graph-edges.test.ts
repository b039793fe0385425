/**
 * The connection graph's edges from both ends' reports (graph-edges.ts). Found by a new-user pass:
 * a console's edge to an agent read 64–81 ms in the graph while the peer row said 1 ms, because the
 * agent's later report (SCTP's smoothed round trip, delayed acknowledgements included) replaced the
 * console's own ICE figure.
 */
import { describe, expect, it } from 'vitest';
import { projectEdges } from '../../../src-renderer/components/graph-edges';

const known = new Set(['ada', 'bot', 'cy']);

describe('projectEdges', () => {
  it('one edge per pair; its RTT the first figure given (this console’s own before an agent’s SCTP figure)', () => {
    const own = ['ada', [{ peerId: 'bot', state: 'direct', path: 'direct (host)', rttMs: 1 }]] as const;
    const agents = ['bot', [{ peerId: 'ada', state: 'direct', path: 'direct (host)', rttMs: 72 }]] as const;
    expect(projectEdges(known, [own, agents])).toEqual([{ a: 'ada', b: 'bot', path: 'direct (host)', rttMs: 1 }]);
    // A relayed link's own figure stays, though the other end's last one was of its direct path.
    const relayed = ['ada', [{ peerId: 'cy', state: 'relay', rttMs: 120 }]] as const;
    expect(projectEdges(known, [relayed, ['cy', [{ peerId: 'ada', state: 'direct', path: 'direct (host)', rttMs: 1 }]]])).toEqual([{ a: 'ada', b: 'cy', path: 'registry-relay', rttMs: 120 }]);
    // One end without a figure: the other's.
    expect(projectEdges(known, [['ada', [{ peerId: 'cy', state: 'direct', path: 'direct (host)' }]], ['cy', [{ peerId: 'ada', state: 'direct', rttMs: 3 }]]])).toEqual([
      { a: 'ada', b: 'cy', path: 'direct (host)', rttMs: 3 },
    ]);
  });

  it('either end on the registry relay makes it a relay edge; unknown consoles and self-links are left out', () => {
    const edges = projectEdges(known, [
      ['ada', [{ peerId: 'cy', state: 'relay', rttMs: 40 }, { peerId: 'ghost', state: 'direct' }, { peerId: 'ada', state: 'direct' }]],
      ['cy', [{ peerId: 'ada', state: 'direct', path: 'direct (host)', rttMs: 2 }]],
      ['ghost', [{ peerId: 'ada', state: 'direct' }]],
    ]);
    expect(edges).toEqual([{ a: 'ada', b: 'cy', path: 'registry-relay', rttMs: 40 }]);
  });
});
