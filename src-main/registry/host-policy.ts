/**
 * Which names the registry answers to, and which pages may open its WebSocket.
 *
 * DNS rebinding: a page at http://evil.example:7420 whose name the attacker then points at
 * 127.0.0.1 is same-origin with the victim's loopback registry as far as the browser is concerned
 * and could read /healthz, /metrics and the console's files. Its requests still say
 * `Host: evil.example`, so every HTTP request and upgrade must name the registry by one of its own
 * names: an IP address (a rebinding page has a DNS name, never an address: a page at an address
 * is that address's own), `localhost` (browsers resolve it to loopback themselves), the host it
 * listens on, its public and alternate URLs' hosts, or a name configured with `allowedHosts`.
 *
 * A WebSocket upgrade that carries an Origin (a browser's) must come from a page of this registry
 * — the web console it serves (same origin as the request's Host), the pages of its other
 * instances (public and alternate URLs), the desktop app (`app://console`) — or an origin
 * configured with `allowedOrigins`; otherwise any web page the user visits could open it.
 */
import { isIP } from 'node:net';
import { APP_ORIGIN } from '../security';

export interface HostPolicyOptions {
  /** The address or name the registry listens on. */
  listenHost: string;
  /** http(s) URLs naming this registry: its public URL and the other instances' (alternates). */
  ownUrls: string[];
  /** More names (`wsp.example.org`, or `.example.org` for the name and every name under it). */
  allowedHosts?: string[];
  /** More page origins allowed to open the WebSocket (`https://tools.example.org`). */
  allowedOrigins?: string[];
}

export interface HostPolicy {
  /** True when a `Host` header names this registry (a request without one is not a browser's). */
  hostAllowed(host: string | undefined): boolean;
  /** True when an upgrade's `Origin` may open the WebSocket (no Origin: not a browser). */
  originAllowed(origin: string | undefined, host: string | undefined): boolean;
}

export function createHostPolicy(options: HostPolicyOptions): HostPolicy {
  const names = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of [options.listenHost, ...options.ownUrls.map(hostnameOfUrl), ...(options.allowedHosts ?? [])]) {
    if (!entry) continue;
    const name = normalizeName(entry);
    if (name.startsWith('.')) suffixes.push(name);
    else names.add(name);
  }
  const origins = new Set<string>([APP_ORIGIN, ...[...options.ownUrls, ...(options.allowedOrigins ?? [])].map(originOf).filter((o): o is string => Boolean(o))]);

  const nameAllowed = (name: string): boolean =>
    isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || names.has(name) || suffixes.some((s) => name === s.slice(1) || name.endsWith(s));

  return {
    hostAllowed(host) {
      if (host === undefined) return true;
      const name = hostnameOfHost(host);
      return name !== undefined && nameAllowed(name);
    },
    originAllowed(origin, host) {
      if (origin === undefined) return true;
      const normalized = originOf(origin);
      if (!normalized) return false; // "null" (sandboxed frames, files) and anything unparsable
      if (origins.has(normalized)) return true;
      // The web console this registry serves, at whatever allowed name the browser used (http, or
      // https through a TLS proxy).
      return host !== undefined && (normalized === originOf(`http://${host}`) || normalized === originOf(`https://${host}`));
    },
  };
}

/** `Host: Name.Example.:7420` → `name.example`; `[::1]:7420` → `::1`; undefined if it is no host[:port]. */
function hostnameOfHost(host: string): string | undefined {
  // Only a name or an address and a port: `new URL` would also take user info, paths and escapes.
  if (!/^(?:[a-z0-9._~-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i.test(host)) return undefined;
  try {
    return normalizeName(new URL(`http://${host}`).hostname);
  } catch {
    return undefined;
  }
}

function hostnameOfUrl(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

/** `scheme://host[:port]` of a URL, with the default port left out; undefined for opaque origins. */
function originOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.origin;
    // Custom standard schemes (app://console): Node's URL gives them the origin "null".
    return u.host ? `${u.protocol}//${u.host}` : undefined;
  } catch {
    return undefined;
  }
}
