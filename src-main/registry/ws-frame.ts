/**
 * A server's WebSocket binary message (RFC 6455 §5.2: FIN, opcode 2, unmasked), header and body in
 * one Buffer, for writing straight to the socket `ws` writes to. `ws.send` builds an options
 * object and a header Buffer per message and writes header and body as two chunks; for the
 * signals the registry relays one at a time this was a measurable part of its CPU per frame
 * (docs/BENCHMARKS.md, run 7). Only for a connection without extensions (`ws.extensions` empty:
 * no permessage-deflate, which the registry does not offer), whose frames `ws` writes at once and
 * in order, so a message written here keeps its place among them.
 */

const FIN_BINARY = 0x82;

/** Header bytes for a body of `length` bytes: 7-bit, 16-bit or 64-bit length. */
function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10;
}

/** A binary message of `length` body bytes, its header written; the body (from bodyOf) is to be filled. */
export function binaryMessage(length: number): Buffer {
  const header = headerLength(length);
  // Pooled memory, as Buffer.from copies use: a fresh ArrayBuffer per message costs more than the copy.
  const message = Buffer.allocUnsafe(header + length);
  message[0] = FIN_BINARY;
  if (header === 2) message[1] = length;
  else if (header === 4) {
    message[1] = 126;
    message.writeUInt16BE(length, 2);
  } else {
    message[1] = 127;
    message.writeUInt32BE(0, 2);
    message.writeUInt32BE(length, 6);
  }
  return message;
}

/** The body's length of a binaryMessage, from its header. */
export function bodyLength(message: Buffer): number {
  const length = message[1]!;
  return length < 126 ? length : length === 126 ? message.readUInt16BE(2) : message.readUInt32BE(6);
}

/** The body of a binaryMessage (a view, no copy). */
export function bodyOf(message: Buffer): Buffer {
  return message.subarray(message.length - bodyLength(message));
}
