/**
 * A malicious registry, made of an honest one and a proxy in front of it: consoles load their page
 * and open their registry WebSocket through the proxy, and every frame the registry sends a
 * console passes through `tamper(frame, to)` first, which may rewrite, drop (`[]`) or multiply it.
 * `to` is the console's peer id once its welcome went by (undefined before). What consoles send
 * goes to the registry untouched. So the registry under test has no test seam in it.
 *
 * HTTP requests (the page, its assets) are passed on as they are, with the registry's Host.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { decodeServerFrame, encodeFrame } from '../../src-shared/protocol/codec';
import { SIGNALING_PATH, type ServerFrame } from '../../src-shared/protocol/signaling';

export type Tamper = (frame: ServerFrame, to: string | undefined) => ServerFrame[];

export interface TamperProxy {
  /** The proxy's http origin: open pages and make invite links with it. */
  url: string;
  close(): Promise<void>;
}

/** Close codes a WebSocket may not send itself (they describe a close, not a reason for one). */
const RESERVED_CLOSE_CODES = new Set([1004, 1005, 1006, 1015]);

export async function startTamperProxy(registryPort: number, tamper: Tamper): Promise<TamperProxy> {
  const upstreamHost = `127.0.0.1:${registryPort}`;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  const sockets = new Set<WebSocket>();

  const server: Server = createServer((req, res) => {
    const forwarded = request({ host: '127.0.0.1', port: registryPort, method: req.method, path: req.url, headers: { ...req.headers, host: upstreamHost } }, (upstream) => {
      res.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(res);
    });
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== SIGNALING_PATH) return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (client) => {
      // No Origin upstream: the proxy is not a page (the registry checks browsers' origins).
      const upstream = new WebSocket(`ws://${upstreamHost}${SIGNALING_PATH}`, { maxPayload: 64 * 1024 * 1024 });
      sockets.add(client).add(upstream);
      let to: string | undefined;
      const early: RawData[] = [];
      client.on('message', (data: RawData) => {
        if (upstream.readyState === WebSocket.OPEN) upstream.send(data);
        else early.push(data);
      });
      upstream.on('open', () => {
        for (const data of early.splice(0)) upstream.send(data);
      });
      upstream.on('message', (data: RawData, isBinary: boolean) => {
        const bytes = toBytes(data);
        const decoded = isBinary ? decodeServerFrame(bytes) : undefined;
        if (!decoded?.ok) return void client.send(bytes, { binary: isBinary });
        if (decoded.frame.type === 'welcome') to = decoded.frame.peer_id;
        for (const frame of tamper(decoded.frame, to)) client.send(encodeFrame(frame), { binary: true });
      });
      const pass = (from: WebSocket, other: WebSocket) => (code: number, reason: Buffer) => {
        sockets.delete(from);
        if (other.readyState === WebSocket.CLOSED) return;
        if (RESERVED_CLOSE_CODES.has(code) || other.readyState === WebSocket.CONNECTING) other.terminate();
        else other.close(code, reason);
      };
      client.on('close', pass(client, upstream));
      upstream.on('close', pass(upstream, client));
      client.on('error', () => upstream.terminate());
      upstream.on('error', () => client.terminate());
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
