/**
 * The registry's composition root: `createRegistry(options)` builds the HTTP server (health,
 * metrics, web console), the WebSocket signaling endpoint and their parts, and returns a handle.
 * Used alike by the desktop app's embedded registry and the standalone `wsp-registry` CLI.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import pino, { type Logger } from 'pino';
import { SIGNALING_PATH } from '../../src-shared/protocol/signaling';
import { formatInviteLink } from '../../src-shared/invite';
import { ERRORS } from '../../src-shared/protocol/errors';
import { InviteAuthority, loadOrCreateSecret, type InviteOptions } from './invites';
import { ProjectDirectory } from './projects';
import { createMetrics } from './metrics';
import { handleConnection, type ConnectionContext, type RegistryLimits } from './connection';
import { serveStatic, webConsoleCsp } from './static-files';
import { iceServersFor, type TurnOptions } from './turn-credentials';
import { AdmissionGate, LogThrottle, clientAddress } from './admission';
import { createHostPolicy } from './host-policy';
import { DEFAULT_RELAY_BUDGET, RelayAccounting, type RelayBudget } from './relay-accounting';
import { RecentDepartures } from './departures';
import { OnceWithin } from './once-within';
import { EARLY_HELLO_WINDOW_MS, SIGNALING_SUBPROTOCOL, readEarlyHello } from '../../src-shared/protocol/early-hello';
import type { InviteSummary } from '../../src-shared/invite';
import { RedisCluster } from './cluster/redis-cluster';
import type { Cluster } from './cluster/cluster';

/**
 * Early hellos remembered at most (each for a minute; its key, time and salt as hex, ~200 bytes).
 * Beyond it, early hellos are answered with the challenge until older ones are forgotten.
 */
const MAX_EARLY_HELLO_NONCES = 100_000;

export interface RegistryOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Folder for the invite secret and invite use counts; without it (and without
   * `inviteSecret`) the secret lives in memory and invites die with the process. */
  dataDir?: string;
  inviteSecret?: Uint8Array;
  /** The http(s) origin teammates reach this registry at, used in invite links. */
  publicUrl?: string;
  /** Folder of the built web console, served at `/`. */
  webRoot?: string;
  /**
   * Serve https and wss with this certificate (PEM, the chain after the leaf) and key, instead of
   * http and ws. `RegistryHandle.setTls` swaps them while consoles stay connected.
   */
  tls?: TlsFiles;
  /**
   * The public http(s) URLs of the other instances of this registry (with `redis`): invites name
   * them as alternates and the web console may fail over to them.
   */
  alternateUrls?: string[];
  /** STUN servers handed to consoles (none by default; the CLI defaults to a public one). */
  stunUrls?: string[];
  /** TURN servers sharing a REST secret with this registry (coturn `use-auth-secret`). */
  turn?: TurnOptions;
  relayBudget?: Partial<RelayBudget>;
  /**
   * Share presence, routing and relay accounting with other instances through Redis
   * (`redis://host:port[/db]`). Instances must share the invite secret (`inviteSecret` or the
   * same secret file). Without it: one process, in memory.
   */
  redis?: string;
  limits?: Partial<RegistryLimits>;
  /**
   * More names the registry answers to, besides IP addresses, `localhost`, `host` and the hosts of
   * `publicUrl` and `alternateUrls` (DNS-rebinding defence; `.example.org` allows every name under it).
   */
  allowedHosts?: string[];
  /** More page origins that may open the WebSocket, besides the registry's own and the desktop app's. */
  allowedOrigins?: string[];
  /**
   * Behind a reverse proxy: logs name the client by the proxy's X-Forwarded-For, and the
   * per-address cap on unauthenticated connections is left to the proxy (all come from it).
   */
  trustProxy?: boolean;
  logger?: Logger;
  now?: () => number;
}

/** PEM text (or bytes) of a certificate chain and its private key. */
export interface TlsFiles {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface RegistryHandle {
  /** ws://host:port/ws (wss:// with `tls`) */
  url: string;
  /** http://host:port (https:// with `tls`) */
  httpUrl: string;
  port: number;
  createInvite(options: InviteOptions): Promise<{ token: string; link: string; id: string }>;
  /** Unexpired invites issued by this registry (and, with a data folder, the CLI). */
  listInvites(): InviteSummary[];
  /** Revokes an invite (id, link or token): refused from now on, its consoles disconnected. */
  revokeInvite(invite: string): Promise<void>;
  stats(): { connections: number; consoles: number; projects: number };
  /**
   * Replaces the certificate and key of a registry started with `tls`: new connections get them,
   * open ones (consoles' WebSockets) are untouched. Throws, keeping the old pair, if they do not
   * parse or do not belong together.
   */
  setTls(tls: TlsFiles): void;
  close(): Promise<void>;
}

export const DEFAULT_LIMITS: RegistryLimits = {
  maxFrameBytes: 64 * 1024,
  framesPerSecond: 50,
  burst: 200,
  floodTolerance: 500,
  badFrameTolerance: 20,
  authTimeoutMs: 10_000,
  heartbeatMs: 15_000,
  maxPeersPerProject: 64,
  maxQueuedBytes: 1024 * 1024,
  relayFramesPerSecond: 2000,
  requestTimeoutMs: 5_000,
  maxUnauthenticated: 1024,
  maxUnauthenticatedPerAddress: 64,
};

/** /healthz, /metrics and error answers: data, never a document a browser should run or sniff. */
const PLAIN_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
} as const;

export async function createRegistry(options: RegistryOptions = {}): Promise<RegistryHandle> {
  const limits: RegistryLimits = { ...DEFAULT_LIMITS, ...options.limits };
  for (const key of ['requestTimeoutMs', 'authTimeoutMs', 'maxUnauthenticated', 'maxUnauthenticatedPerAddress'] as const) {
    if (!(limits[key] > 0)) throw new Error(`limits.${key} must be positive, not ${limits[key]}`);
  }
  const now = options.now ?? Date.now;
  const logger = options.logger ?? pino({ name: 'wsp-registry' });
  const secret = options.inviteSecret ?? (options.dataDir ? loadOrCreateSecret(options.dataDir) : crypto.getRandomValues(new Uint8Array(32)));
  const invites = new InviteAuthority(secret, options.dataDir, now);
  const directory = new ProjectDirectory();
  const metrics = createMetrics();
  const relay = new RelayAccounting({ ...DEFAULT_RELAY_BUDGET, ...options.relayBudget }, now);
  const departures = new RecentDepartures(now);
  const connections = new Map<WebSocket, { heartbeat(): void }>();
  const cluster: Cluster | undefined = options.redis
    ? await RedisCluster.connect({
        url: options.redis,
        heartbeatMs: limits.heartbeatMs,
        logger: logger.child({ component: 'cluster' }),
        inbound: {
          presence(project, frame, subject) {
            if (frame.type === 'peer_left') departures.note(project, subject);
            for (const m of directory.members(project)) if (m.peerId !== subject) m.send(frame);
          },
          deliver(project, toPeerId, frame) {
            const target = directory.get(project, toPeerId);
            target?.send(frame);
            return Boolean(target);
          },
          kick(project, peerId) {
            directory.get(project, peerId)?.kick();
          },
          inviteRevoked(inviteId) {
            for (const m of directory.admittedBy(inviteId)) m.kick('INVITE_REVOKED');
          },
          recovered() {
            for (const project of directory.projectIds()) {
              for (const m of directory.members(project)) void cluster?.announceJoin(project, m.info).catch(() => undefined);
            }
          },
        },
      })
    : undefined;
  // A revoked invite (here, by the CLI in this data folder, or at another instance) admits nobody,
  // and the consoles it admitted are disconnected: they would present it again at their next reconnect.
  invites.onRevoked(({ id, expiresAt }) => {
    logger.info({ invite: id }, 'invite revoked');
    for (const m of directory.admittedBy(id)) m.kick('INVITE_REVOKED');
    cluster?.revokeInvite(id, expiresAt).catch((error: Error) => logger.warn({ err: error.message }, 'could not share a revocation with the cluster'));
  });
  for (const { id, expiresAt } of invites.revoked()) await cluster?.revokeInvite(id, expiresAt);

  const csp = webConsoleCsp(options.alternateUrls ?? []);
  const trustProxy = options.trustProxy ?? false;
  const hosts = createHostPolicy({
    listenHost: options.host ?? '127.0.0.1',
    ownUrls: [...(options.publicUrl ? [options.publicUrl] : []), ...(options.alternateUrls ?? [])],
    ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
    ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
  });
  const gate = new AdmissionGate(limits, metrics, logger, !trustProxy, now);
  /** Refusals and timeouts are logged at most once per 10 s per address and kind (a flood must not flood the log). */
  const refusalLog = new LogThrottle(now);
  // Unfinished requests and upgrades — including connections that send nothing — are cut after
  // the request timeout (Node answers 408); Node checks them every connectionsCheckingInterval.
  const serverOptions = {
    headersTimeout: limits.requestTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, limits.requestTimeoutMs / 4)),
  };
  const http = options.tls
    ? // The request timeout starts once TLS is up; a connection that never finishes the handshake
      // is cut after the same time instead of Node's default 120 s.
      createHttpsServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key, handshakeTimeout: limits.requestTimeoutMs }, (req, res) => void onRequest(req, res))
    : createServer(serverOptions, (req, res) => void onRequest(req, res));
  // Before Node's own listener: a connection over the caps is destroyed before it is parsed (with
  // TLS, before the handshake: the TCP socket is admitted, the TLS socket over it authenticated).
  http.prependListener('connection', (socket: Socket) => gate.admit(socket));
  http.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const addr = (socket as Socket).remoteAddress ?? 'unknown';
    if (timedOut) {
      metrics.requestTimeouts.inc();
      if (refusalLog.allow(`timeout ${addr}`)) logger.info({ addr }, 'request timeout: nothing or an unfinished request within the limit');
    }
    // What Node answers without this listener (408, 431, 400), then the socket is cut.
    if (socket.writable && error.code !== 'ECONNRESET') {
      const status = timedOut ? '408 Request Timeout' : error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    }
    socket.destroy();
  });
  const connectionContext: ConnectionContext = {
    limits,
    invites,
    directory,
    metrics,
    logger,
    now,
    welcomed: (socket) => gate.authenticated(socket),
    iceServersFor: (peerId) => iceServersFor(peerId, options.stunUrls ?? [], options.turn, now()),
    relay,
    departures,
    ...(cluster ? { cluster } : {}),
    closed: (ws) => connections.delete(ws),
    earlyHellos: new OnceWithin(2 * EARLY_HELLO_WINDOW_MS, MAX_EARLY_HELLO_NONCES, now),
  };
  // Frames up to 4× the limit get a FRAME_TOO_LARGE error and the connection lives; beyond that
  // ws closes with 1009 before buffering them.
  // `connections` tracks the sockets: ws's own client set would add a Set entry and a closure per connection.
  // `wsp` is selected when offered (a console offers it before its early hello, which is never selected).
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxFrameBytes * 4,
    clientTracking: false,
    handleProtocols: (offered) => (offered.has(SIGNALING_SUBPROTOCOL) ? SIGNALING_SUBPROTOCOL : false),
  });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const client = clientAddress(req, trustProxy);
    if (!hosts.hostAllowed(req.headers.host)) {
      refuseForeign('host', client, req.headers.host);
      socket.end('HTTP/1.1 421 Misdirected Request\r\nConnection: close\r\n\r\n');
      return;
    }
    if (!hosts.originAllowed(req.headers.origin, req.headers.host)) {
      refuseForeign('origin', client, req.headers.origin);
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    if (new URL(req.url ?? '/', 'http://x').pathname !== SIGNALING_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      logger.info(client, 'connection opened');
      const connection = handleConnection(ws, socket as Socket, client, connectionContext, readEarlyHello(req.headers['sec-websocket-protocol']));
      connections.set(ws, connection);
    });
  });

  /** A request that names another host, or an upgrade from a page of another origin. */
  function refuseForeign(reason: 'host' | 'origin', client: { addr: string; via?: string }, value: string | undefined): void {
    metrics.refused.inc({ reason });
    if (!refusalLog.allow(`${reason} ${client.addr}`)) return;
    logger.warn({ ...client, [reason]: (value ?? '').slice(0, 200) }, reason === 'host' ? 'request refused: not one of this registry’s names (see --allowed-host)' : 'WebSocket refused: a page of a foreign origin (see --allowed-origin)');
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (!hosts.hostAllowed(req.headers.host)) {
      refuseForeign('host', clientAddress(req, trustProxy), req.headers.host);
      res.writeHead(421, { ...PLAIN_HEADERS, 'content-type': 'text/plain; charset=utf-8' }).end('this registry does not answer to that name: its operator can allow it with --allowed-host\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...PLAIN_HEADERS, allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      const healthy = !cluster || cluster.healthy();
      res
        .writeHead(healthy ? 200 : 503, { ...PLAIN_HEADERS, 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify({ status: healthy ? 'ok' : 'unhealthy', ...(cluster ? { redis: healthy ? 'up' : 'down', instance: cluster.instanceId } : {}), ...stats() }));
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { ...PLAIN_HEADERS, 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' }).end(await metrics.registry.metrics());
      return;
    }
    if (options.webRoot && serveStatic(options.webRoot, path, res, csp)) return;
    res.writeHead(404, { ...PLAIN_HEADERS, 'content-type': 'text/plain; charset=utf-8' }).end(options.webRoot || path !== '/' ? 'not found\n' : 'WSP registry: no web console built (run npm run build)\n');
  }

  function stats() {
    return { connections: connections.size, consoles: directory.memberCount, projects: directory.projectCount };
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', (error) => {
      wss.close();
      reject(error);
    });
    http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      http.removeAllListeners('error');
      resolve();
    });
  });
  http.on('error', (error) => logger.error({ err: error.message }, 'http server error'));
  const heartbeat = setInterval(() => {
    for (const connection of connections.values()) connection.heartbeat();
    if (cluster) {
      const local = directory.projectIds().flatMap((project) => directory.members(project).map((m) => ({ project, peerId: m.peerId })));
      cluster.heartbeat(local).catch((error: Error) => logger.warn({ err: error.message }, 'cluster heartbeat failed'));
    }
  }, limits.heartbeatMs);
  heartbeat.unref();
  const address = http.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const scheme = options.tls ? 'https' : 'http';
  const httpUrl = `${scheme}://${hostForUrl}:${address.port}`;
  const publicUrl = options.publicUrl ?? httpUrl;
  logger.info({ url: httpUrl }, 'registry listening');

  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls ? 'wss' : 'ws'}://${hostForUrl}:${address.port}${SIGNALING_PATH}`,
    httpUrl,
    port: address.port,
    stats,
    async createInvite(inviteOptions) {
      const { token, invite } = await invites.issueRecorded(inviteOptions);
      return { token, id: invite.id, link: formatInviteLink(publicUrl, token, options.alternateUrls ?? []) };
    },
    listInvites: () => invites.list(),
    setTls(tls) {
      if (!('setSecureContext' in http)) throw new Error('this registry was started without TLS: restart it with a certificate');
      http.setSecureContext({ cert: tls.cert, key: tls.key });
      logger.info('TLS certificate replaced');
    },
    async revokeInvite(invite) {
      await invites.revoke(invite);
    },
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        invites.close();
        // Tell the other instances first, so they need not wait for the members to expire.
        if (cluster?.healthy()) {
          await Promise.allSettled(
            directory.projectIds().flatMap((project) => directory.members(project).map((m) => cluster.announceLeave(project, m.peerId, 'closed'))),
          );
        }
        await new Promise<void>((resolve) => {
        for (const ws of connections.keys()) ws.close(ERRORS.SHUTTING_DOWN.close, 'SHUTTING_DOWN');
        wss.close();
        http.close(() => resolve());
        http.closeAllConnections();
        // Sockets that do not answer the close handshake are cut after a moment.
        setTimeout(() => {
          for (const ws of connections.keys()) ws.terminate();
        }, 1000).unref();
        });
        await cluster?.close();
      })();
      return closing;
    },
  };
}

