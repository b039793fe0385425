/**
 * What two consoles put in the registry's opaque signaling payloads: a signed envelope the
 * registry cannot forge, alter, redirect or replay.
 *
 *   envelope = { v: 2, cert, seq, body, sig }
 *   sig      = Ed25519(session signing key, "wsp/v1/signal" ‖ 0 ‖ msgpack([type, from, to, project, seq, body]))
 *
 * `cert` is the sender's session certificate (signed by its identity key); `seq` grows with every
 * message the sender's session sends, so a resent old message is recognised; `body` is the
 * MessagePack of a LinkSignal. Each LinkSignal names the sending RTCPeerConnection (`from`) and the
 * one it is meant for (`to`, when known), so a late message for a replaced connection is dropped.
 */
import { decode, encode } from '@msgpack/msgpack';
import { z } from 'zod';
import { bytes } from '../../../src-shared/protocol/signaling';
import { signedMessage } from '../../../src-shared/identity';
import type { SessionCertificate } from '../../../src-shared/session-certificate';

const connectionId = z.string().regex(/^[A-Za-z0-9_-]{8,32}$/);

export const linkSignalSchema = z.object({
  v: z.literal(1),
  from: connectionId,
  to: connectionId.nullable(),
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

const envelopeSchema = z.object({
  v: z.literal(2),
  cert: z.object({ sign_key: bytes({ exact: 32 }), box_key: bytes({ exact: 32 }), started_at: z.number().int().nonnegative(), sig: bytes({ exact: 64 }) }),
  seq: z.number().int().positive(),
  body: bytes({ max: 32 * 1024 }),
  sig: bytes({ exact: 64 }),
});

export interface SignalEnvelope {
  certificate: SessionCertificate;
  seq: number;
  body: Uint8Array;
  signature: Uint8Array;
}

/** The bytes a signaling signature covers: who sends what to whom, in which project, in which order. */
export function signalSignedBytes(type: string, from: string, to: string, project: string, seq: number, body: Uint8Array): Uint8Array {
  return signedMessage('signal', encode([type, from, to, project, seq, body]));
}

export function encodeEnvelope(envelope: SignalEnvelope): Uint8Array {
  const c = envelope.certificate;
  return encode({
    v: 2,
    cert: { sign_key: c.signKey, box_key: c.boxKey, started_at: c.startedAt, sig: c.signature },
    seq: envelope.seq,
    body: envelope.body,
    sig: envelope.signature,
  });
}

export function decodeEnvelope(payload: Uint8Array): SignalEnvelope | { error: string } {
  let raw: unknown;
  try {
    raw = decode(payload);
  } catch {
    return { error: 'signaling payload is not MessagePack' };
  }
  const parsed = envelopeSchema.safeParse(raw);
  if (!parsed.success) return { error: `signaling envelope is malformed: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}` };
  const { cert, seq, body, sig } = parsed.data;
  return { certificate: { signKey: cert.sign_key, boxKey: cert.box_key, startedAt: cert.started_at, signature: cert.sig }, seq, body, signature: sig };
}

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
