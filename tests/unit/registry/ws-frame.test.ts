import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { binaryMessage, bodyLength, bodyOf } from '../../../src-main/registry/ws-frame';

let server: Server | undefined;
const sockets: Duplex[] = [];
afterEach(async () => {
  sockets.splice(0).forEach((socket) => socket.destroy());
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
});

/** A WebSocket server that answers the handshake itself and writes `messages` as they are. */
async function writeRaw(messages: Buffer[]): Promise<Buffer[]> {
  server = createServer();
  server.on('upgrade', (req, socket: Duplex) => {
    sockets.push(socket);
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    for (const message of messages) socket.write(message);
  });
  await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { perMessageDeflate: false });
  const received: Buffer[] = [];
  await new Promise<void>((done, fail) => {
    ws.on('message', (data: Buffer, isBinary) => {
      expect(isBinary).toBe(true);
      received.push(data);
      if (received.length === messages.length) done();
    });
    ws.on('error', fail);
  });
  ws.terminate();
  return received;
}

describe('binaryMessage', () => {
  it('writes messages a WebSocket client reads whole, with 7-bit, 16-bit and 64-bit lengths', async () => {
    const lengths = [0, 125, 126, 65_535, 65_536, 70_000];
    const messages = lengths.map((length, i) => {
      const message = binaryMessage(length);
      bodyOf(message).fill(i + 1);
      return message;
    });
    expect(messages.map((m) => m.length - bodyOf(m).length)).toEqual([2, 2, 4, 4, 10, 10]);
    expect(messages.map(bodyLength)).toEqual(lengths);
    const received = await writeRaw(messages);
    expect(received.map((r) => r.length)).toEqual(lengths);
    received.forEach((r, i) => expect(r.every((b) => b === i + 1)).toBe(true));
  });
});
