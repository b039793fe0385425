/** Prometheus metrics of one registry instance (its own prom-client Registry, not the global one). */
import { Counter, Gauge, Registry as PromRegistry } from 'prom-client';

/**
 * Frames and bytes counted as plain numbers, added to their prom-client counters when these are
 * collected (a scrape): prom-client hashes the labels of every inc(), and the four or five per
 * relayed frame were ~5 % of the registry's CPU per frame (docs/BENCHMARKS.md, run 7).
 */
class Traffic {
  private framesIn = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private signalingBytes = 0;
  private readonly framesOut = new Map<string, number>();

  received(bytes: number): void {
    this.framesIn++;
    this.bytesIn += bytes;
  }

  sent(type: string, bytes: number): void {
    this.framesOut.set(type, (this.framesOut.get(type) ?? 0) + 1);
    this.bytesOut += bytes;
  }

  /** Opaque signaling payload bytes routed. */
  signaled(bytes: number): void {
    this.signalingBytes += bytes;
  }

  /** Adds what was counted since the last flush to the counters. */
  flush(frames: Counter<'direction' | 'type'>, bytes: Counter<'direction'>, signalingBytes: Counter): void {
    if (this.framesIn) frames.inc({ direction: 'in', type: 'any' }, this.framesIn);
    for (const [type, count] of this.framesOut) frames.inc({ direction: 'out', type }, count);
    if (this.bytesIn) bytes.inc({ direction: 'in' }, this.bytesIn);
    if (this.bytesOut) bytes.inc({ direction: 'out' }, this.bytesOut);
    if (this.signalingBytes) signalingBytes.inc(this.signalingBytes);
    this.framesIn = this.bytesIn = this.bytesOut = this.signalingBytes = 0;
    this.framesOut.clear();
  }
}

export function createMetrics() {
  const registry = new PromRegistry();
  const traffic = new Traffic();
  // Whichever of the three is collected first brings all three up to date.
  const collect = (): void => traffic.flush(frames, bytes, signalingBytes);
  const frames = new Counter({ name: 'wsp_registry_frames_total', help: 'Frames received and sent', labelNames: ['direction', 'type'] as const, registers: [registry], collect });
  const bytes = new Counter({ name: 'wsp_registry_bytes_total', help: 'Frame bytes received and sent', labelNames: ['direction'] as const, registers: [registry], collect });
  const signalingBytes = new Counter({ name: 'wsp_registry_signaling_bytes_total', help: 'Opaque signaling payload bytes routed', registers: [registry], collect });
  const metrics = {
    registry,
    /** Per-frame counts (frames, bytes, signaling bytes): what the hot path counts, instead of inc() on those counters. */
    traffic,
    connections: new Gauge({ name: 'wsp_registry_connections', help: 'Open WebSocket connections (authenticated or not)', registers: [registry] }),
    consoles: new Gauge({ name: 'wsp_registry_consoles', help: 'Authenticated consoles', registers: [registry] }),
    projects: new Gauge({ name: 'wsp_registry_projects', help: 'Projects with at least one console', registers: [registry] }),
    frames,
    bytes,
    signalingBytes,
    relayBytes: new Counter({ name: 'wsp_registry_relay_bytes_total', help: 'Sealed relay payload bytes routed (opaque to the registry)', registers: [registry] }),
    badFrames: new Counter({ name: 'wsp_registry_bad_frames_total', help: 'Frames counted against a console’s bad-frame tolerance, by the error they got', labelNames: ['code'] as const, registers: [registry] }),
    errors: new Counter({ name: 'wsp_registry_errors_total', help: 'Errors sent to clients, by code', labelNames: ['code'] as const, registers: [registry] }),
    unauthenticated: new Gauge({ name: 'wsp_registry_unauthenticated_connections', help: 'Open TCP connections that are not (yet) a welcomed console: HTTP, upgrades, WebSockets before welcome', registers: [registry] }),
    refused: new Counter({
      name: 'wsp_registry_refused_connections_total',
      help: 'Connections and requests refused before any work: address_limit, total_limit (unauthenticated caps), host (not one of the registry names), origin (a foreign page)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    earlyHellos: new Counter({
      name: 'wsp_registry_early_hellos_total',
      help: 'Hellos carried in the WebSocket upgrade (docs/PROTOCOL.md §3): accepted, or answered with the challenge because stale (outside the time window) or replayed (nonce seen before)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    requestTimeouts: new Counter({ name: 'wsp_registry_request_timeouts_total', help: 'HTTP requests and upgrades closed because they did not arrive in full within the request timeout', registers: [registry] }),
  };
  return metrics;
}
export type RegistryMetrics = ReturnType<typeof createMetrics>;
