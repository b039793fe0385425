/**
 * The project's connection graph as one edge per pair of consoles, from what each end reports of
 * its links. Either end on the registry relay makes the edge a relay edge. Its RTT is the first
 * figure given, so reports come best first: this console's own (what its peer row says), then
 * other consoles' (ICE's round trip), then agents' — a Node agent's figure is SCTP's smoothed round
 * trip, which counts the other end's delayed acknowledgements (tens of ms on a quiet link where a
 * browser's ICE checks read 1).
 */
export interface GraphEdge {
  a: string;
  b: string;
  path: string;
  rttMs?: number;
}

export interface ReportedLink {
  peerId: string;
  state: string;
  path?: string;
  rttMs?: number;
}

export function projectEdges(known: ReadonlySet<string>, reports: Iterable<readonly [from: string, links: Iterable<ReportedLink>]>): GraphEdge[] {
  const edges = new Map<string, GraphEdge>();
  for (const [from, links] of reports) {
    for (const link of links) {
      const to = link.peerId;
      if (!known.has(from) || !known.has(to) || from === to) continue;
      const [a, b] = from < to ? [from, to] : [to, from];
      const previous = edges.get(`${a}|${b}`);
      const reported = link.state === 'relay' ? 'registry-relay' : link.path;
      const path = previous && (previous.path === 'registry-relay' || !reported) ? previous.path : (reported ?? 'none');
      const rttMs = previous?.rttMs ?? link.rttMs;
      edges.set(`${a}|${b}`, { a, b, path, ...(rttMs !== undefined ? { rttMs } : {}) });
    }
  }
  return [...edges.values()].sort((x, y) => `${x.a}${x.b}`.localeCompare(`${y.a}${y.b}`));
}
