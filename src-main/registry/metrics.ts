/** Prometheus metrics of one registry instance (its own prom-client Registry, not the global one). */
import { Counter, Gauge, Registry as PromRegistry } from 'prom-client';

export function createMetrics() {
  const registry = new PromRegistry();
  const metrics = {
    registry,
    connections: new Gauge({ name: 'wsp_registry_connections', help: 'Open WebSocket connections (authenticated or not)', registers: [registry] }),
    consoles: new Gauge({ name: 'wsp_registry_consoles', help: 'Authenticated consoles', registers: [registry] }),
    projects: new Gauge({ name: 'wsp_registry_projects', help: 'Projects with at least one console', registers: [registry] }),
    frames: new Counter({ name: 'wsp_registry_frames_total', help: 'Frames received and sent', labelNames: ['direction', 'type'] as const, registers: [registry] }),
    bytes: new Counter({ name: 'wsp_registry_bytes_total', help: 'Frame bytes received and sent', labelNames: ['direction'] as const, registers: [registry] }),
    signalingBytes: new Counter({ name: 'wsp_registry_signaling_bytes_total', help: 'Opaque signaling payload bytes routed', registers: [registry] }),
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
    requestTimeouts: new Counter({ name: 'wsp_registry_request_timeouts_total', help: 'HTTP requests and upgrades closed because they did not arrive in full within the request timeout', registers: [registry] }),
  };
  return metrics;
}
export type RegistryMetrics = ReturnType<typeof createMetrics>;
