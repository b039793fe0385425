/**
 * The registry WebSocket in Node (20 has no global one): the `ws` package, which speaks the same
 * browser-style API the SignalingClient uses (binaryType 'arraybuffer', on* handlers, close codes).
 */
import WebSocket from 'ws';

/** The `createSocket` the engine takes (SignalingClient, createConsoleSession), for Node. */
export function createNodeSocket(url: string, protocols: string[] = []): globalThis.WebSocket {
  return new WebSocket(url, protocols) as unknown as globalThis.WebSocket;
}
