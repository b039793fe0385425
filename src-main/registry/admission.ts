/**
 * Admission before authentication. Anyone who can reach the registry can open connections, so
 * what they cost before a console has proved an invite is bounded: every TCP connection counts as
 * unauthenticated from accept until its WebSocket is welcomed (or it closes), and a connection
 * over the cap — per remote address, and in total — is destroyed as it is accepted, before HTTP
 * parsing, upgrade or WebSocket state are spent on it. The timeouts that end unfinished requests
 * and silent WebSockets live with the HTTP server (registry.ts) and the connection (connection.ts).
 */
import { isIP, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RegistryMetrics } from './metrics';

export interface AdmissionLimits {
  maxUnauthenticated: number;
  maxUnauthenticatedPerAddress: number;
}

/** Refusals of one address are logged at most this often (a flood must not flood the log). */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/** True at most once per interval for each key; forgets everything past 10,000 keys (then logs again). */
export class LogThrottle {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly intervalMs = REFUSAL_LOG_INTERVAL_MS,
  ) {}

  allow(key: string): boolean {
    const at = this.last.get(key);
    if (at !== undefined && this.now() - at < this.intervalMs) return false;
    if (this.last.size >= 10_000) this.last.clear();
    this.last.set(key, this.now());
    return true;
  }
}

export class AdmissionGate {
  /** Unauthenticated sockets, the address key each is counted under, its remote end and its 'close' listener. */
  private readonly pending = new Map<Socket, { key: string; end: string; onClose: () => void }>();
  /** The same sockets by their remote end: with TLS the upgrade sees the TLS socket over the admitted one. */
  private readonly byRemoteEnd = new Map<string, Socket>();
  private readonly perAddress = new Map<string, number>();
  private readonly logThrottle: LogThrottle;

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly metrics: RegistryMetrics,
    private readonly logger: Logger,
    /**
     * Behind a reverse proxy every connection comes from the proxy, so the per-address cap would
     * throttle everyone: then only the total cap applies here and the proxy limits per client.
     */
    private readonly perAddressCap: boolean,
    now: () => number = Date.now,
  ) {
    this.logThrottle = new LogThrottle(now);
  }

  /** For every accepted TCP connection, before anything else sees it; false: it was destroyed. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress;
    if (!address) {
      socket.destroy(); // already gone
      return false;
    }
    const key = addressKey(address);
    const fromAddress = this.perAddress.get(key) ?? 0;
    if (this.pending.size >= this.limits.maxUnauthenticated) return this.refuse(socket, key, 'total_limit', this.limits.maxUnauthenticated);
    if (this.perAddressCap && fromAddress >= this.limits.maxUnauthenticatedPerAddress) {
      return this.refuse(socket, key, 'address_limit', this.limits.maxUnauthenticatedPerAddress);
    }
    const end = remoteEnd(socket);
    const onClose = () => this.release(socket);
    this.pending.set(socket, { key, end, onClose });
    this.byRemoteEnd.set(end, socket);
    this.perAddress.set(key, fromAddress + 1);
    this.metrics.unauthenticated.set(this.pending.size);
    socket.once('close', onClose);
    return true;
  }

  /** The connection's console was welcomed: it no longer counts against the caps. `socket`: the
   * admitted TCP socket or, with TLS, the TLS socket over it (same remote address and port). */
  authenticated(socket: Socket): void {
    this.release(this.pending.has(socket) ? socket : this.byRemoteEnd.get(remoteEnd(socket)));
  }

  get size(): number {
    return this.pending.size;
  }

  private release(socket: Socket | undefined): void {
    const entry = socket && this.pending.get(socket);
    if (!entry) return;
    const { key, end, onClose } = entry;
    // Not kept for the life of an authenticated connection (with its closure, ~250 bytes each).
    socket!.off('close', onClose);
    this.pending.delete(socket!);
    this.byRemoteEnd.delete(end);
    const left = (this.perAddress.get(key) ?? 1) - 1;
    if (left > 0) this.perAddress.set(key, left);
    else this.perAddress.delete(key);
    this.metrics.unauthenticated.set(this.pending.size);
  }

  private refuse(socket: Socket, key: string, reason: 'total_limit' | 'address_limit', limit: number): false {
    socket.destroy();
    this.metrics.refused.inc({ reason });
    if (this.logThrottle.allow(key)) {
      const what = reason === 'total_limit' ? 'in total' : 'from this address';
      this.logger.warn({ addr: socket.remoteAddress, reason, limit }, `connection refused: ${limit} unauthenticated connections already open ${what}`);
    }
    return false;
  }
}

function remoteEnd(socket: Socket): string {
  return `[${socket.remoteAddress}]:${socket.remotePort}`;
}

/**
 * The key an address is counted under: the IPv4 address (also when IPv4-mapped), or the /64 of
 * an IPv6 address — one host usually has a whole /64 to pick addresses from.
 */
export function addressKey(address: string): string {
  const plain = address.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
  if (mapped) return mapped[1]!;
  if (isIP(plain) !== 6) return plain;
  const [head = '', tail] = plain.split('::') as [string, string | undefined];
  const groups = (part: string) => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? front : [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return `${all
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/**
 * Who a request came from, for logs: the socket's address, or with `trustProxy` the address the
 * proxy appended to X-Forwarded-For (the last entry: earlier ones are whatever the client sent).
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): { addr: string; via?: string } {
  const socketAddress = req.socket.remoteAddress ?? 'unknown';
  if (!trustProxy) return { addr: socketAddress };
  const header = req.headers['x-forwarded-for'];
  const last = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').pop()?.trim() ?? '';
  return isIP(last) ? { addr: last, via: socketAddress } : { addr: socketAddress };
}
