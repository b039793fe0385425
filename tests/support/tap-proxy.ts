/**
 * A TCP proxy on loopback that records what the server sends, to inspect what crosses the wire,
 * and can freeze its connections: stop forwarding both ways without closing anything, as a NAT
 * that forgot a mapping or a laptop that went to sleep leaves a half-open socket. With `delayMs`,
 * every chunk is held that long each way, in order: a link with a round trip of 2 × delayMs (this
 * machine has no netem).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TapProxy {
  url: string;
  port: number;
  /** Everything the server sent to any client, concatenated. WebSocket server frames are unmasked. */
  downstream(): Buffer;
  /** The connections open now stop carrying anything, both ways, and stay open; new ones work. */
  freeze(): void;
  close(): Promise<void>;
}

export async function startTapProxy(targetPort: number, options: { delayMs?: number } = {}): Promise<TapProxy> {
  const delayMs = options.delayMs ?? 0;
  const pass = (to: Socket, chunk: Buffer) => (delayMs ? setTimeout(() => to.writable && to.write(chunk), delayMs) : to.write(chunk));
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const frozen = new WeakSet<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      if (!frozen.has(client)) pass(upstream, chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (frozen.has(client)) return;
      chunks.push(chunk);
      pass(client, chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    downstream: () => Buffer.concat(chunks),
    freeze: () => sockets.forEach((s) => frozen.add(s)),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
