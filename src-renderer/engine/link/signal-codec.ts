/**
 * What two consoles put in the registry's opaque signaling payloads (MessagePack). Each message
 * names the sending RTCPeerConnection (`from`) and the one it is meant for (`to`, when known), so
 * a late message for a connection that has since been replaced is recognised and dropped.
 * Descriptions also carry the sender's signed session key for the encrypted relay.
 */
import { decode, encode } from '@msgpack/msgpack';
import { z } from 'zod';
import { bytes } from '../../../src-shared/protocol/signaling';

const connectionId = z.string().regex(/^[A-Za-z0-9_-]{8,32}$/);

export const linkSignalSchema = z.object({
  v: z.literal(1),
  from: connectionId,
  to: connectionId.nullable(),
  /** Session relay key (X25519) and its Ed25519 signature by the sender's identity key. */
  session: z.object({ key: bytes({ exact: 32 }), sig: bytes({ exact: 64 }) }).optional(),
  description: z.object({ type: z.enum(['offer', 'answer']), sdp: z.string().max(30_000) }).optional(),
  /** null: end of candidates. */
  candidate: z
    .object({
      candidate: z.string().max(1024),
      sdpMid: z.string().max(64).nullable(),
      sdpMLineIndex: z.number().int().min(0).max(255).nullable(),
      usernameFragment: z.string().max(256).nullable(),
    })
    .nullable()
    .optional(),
});
export type LinkSignal = z.infer<typeof linkSignalSchema>;

export function encodeLinkSignal(signal: LinkSignal): Uint8Array {
  return encode(signal);
}

export function decodeLinkSignal(payload: Uint8Array): LinkSignal | { error: string } {
  let raw: unknown;
  try {
    raw = decode(payload);
  } catch {
    return { error: 'signaling payload is not MessagePack' };
  }
  const parsed = linkSignalSchema.safeParse(raw);
  if (!parsed.success) return { error: `signaling payload is malformed: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}` };
  return parsed.data;
}

export function newConnectionId(): string {
  const random = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...random)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
