/**
 * What two consoles put in the registry's opaque signaling payloads: an authenticated envelope the
 * registry cannot forge, alter, redirect or replay. Two forms:
 *
 *   { v: 3, cert, seq, body, to_key, mac }   when the sender knows the recipient's session
 *   mac = HMAC-SHA256(signal key, "wsp/v1/signal-mac" ‖ 0 ‖ msgpack([type, from, to, project, seq, to_key, body]))
 *
 *   { v: 2, cert, seq, body, sig }           otherwise
 *   sig = Ed25519(session signing key, "wsp/v1/signal" ‖ 0 ‖ msgpack([type, from, to, project, seq, body]))
 *
 * `cert` is the sender's session certificate (signed by its identity key); `seq` grows with every
 * message the sender's session sends, so a resent old message is recognised; `body` is the
 * MessagePack of a LinkSignal. The signal key is shared by the two sessions (signal-key.ts);
 * `to_key` names the recipient session it was made for, so a message for an earlier session of the
 * recipient is told apart from a forged one; `from` and `to` (peer ids) tell the two directions
 * apart. Each LinkSignal names the sending RTCPeerConnection (`from`) and the one it is meant for
 * (`to`, when known), so a late message for a replaced connection is dropped, and the sender's link
 * (`link`, see link-epochs.ts), so a link made again on one side is noticed on the other.
 */
import { decode } from '@msgpack/msgpack';
import { encode } from '../../../src-shared/msgpack';
import { z } from '../../../src-shared/zod';
import { bytes } from '../../../src-shared/protocol/signaling';
import { signedMessage } from '../../../src-shared/identity';
import type { SessionCertificate } from '../../../src-shared/session-certificate';
import { RECIPIENT_KEY_ID_BYTES } from './signal-key';

/** Bounds of a signal's fields: the schemas below and the fast paths after them read the same ones. */
const CONNECTION_ID = /^[A-Za-z0-9_-]{8,32}$/;
const MAX_SDP_CHARS = 30_000;
const MAX_CANDIDATE_CHARS = 1024;
const MAX_MID_CHARS = 64;
const MAX_UFRAG_CHARS = 256;
const MAX_BODY_BYTES = 32 * 1024;

const connectionId = z.string().regex(CONNECTION_ID);

export const linkSignalSchema = z.object({
  v: z.literal(1),
  from: connectionId,
  to: connectionId.nullable(),
  /** The sender's link id (link-epochs.ts); absent from consoles that predate it. */
  link: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  description: z.object({ type: z.enum(['offer', 'answer']), sdp: z.string().max(MAX_SDP_CHARS) }).optional(),
  /** null: end of candidates. */
  candidate: z
    .object({
      candidate: z.string().max(MAX_CANDIDATE_CHARS),
      sdpMid: z.string().max(MAX_MID_CHARS).nullable(),
      sdpMLineIndex: z.number().int().min(0).max(255).nullable(),
      usernameFragment: z.string().max(MAX_UFRAG_CHARS).nullable(),
    })
    .nullable()
    .optional(),
});
export type LinkSignal = z.infer<typeof linkSignalSchema>;

const envelopeFields = {
  cert: z.object({ sign_key: bytes({ exact: 32 }), box_key: bytes({ exact: 32 }), started_at: z.number().int().nonnegative(), sig: bytes({ exact: 64 }) }),
  seq: z.number().int().positive(),
  body: bytes({ max: MAX_BODY_BYTES }),
};
export const envelopeSchema = z.discriminatedUnion('v', [
  z.object({ v: z.literal(2), ...envelopeFields, sig: bytes({ exact: 64 }) }),
  z.object({ v: z.literal(3), ...envelopeFields, to_key: bytes({ exact: RECIPIENT_KEY_ID_BYTES }), mac: bytes({ exact: 32 }) }),
]);

/** An Ed25519 signature by the sender's session, or a MAC under the key it shares with the recipient's. */
export type SignalAuth = { signature: Uint8Array } | { mac: Uint8Array; recipientKeyId: Uint8Array };

export interface SignalEnvelope {
  certificate: SessionCertificate;
  seq: number;
  body: Uint8Array;
  auth: SignalAuth;
}

/** The bytes a signaling signature covers: who sends what to whom, in which project, in which order. */
export function signalSignedBytes(type: string, from: string, to: string, project: string, seq: number, body: Uint8Array): Uint8Array {
  return signedMessage('signal', encode([type, from, to, project, seq, body]));
}

/** The bytes a signaling MAC covers: the same, and which session of the recipient it was made for. */
export function signalMacBytes(type: string, from: string, to: string, project: string, seq: number, recipientKeyId: Uint8Array, body: Uint8Array): Uint8Array {
  return signedMessage('signalMac', encode([type, from, to, project, seq, recipientKeyId, body]));
}

export function encodeEnvelope(envelope: SignalEnvelope): Uint8Array {
  const c = envelope.certificate;
  const fields = { cert: { sign_key: c.signKey, box_key: c.boxKey, started_at: c.startedAt, sig: c.signature }, seq: envelope.seq, body: envelope.body };
  const { auth } = envelope;
  return encode('mac' in auth ? { v: 3, ...fields, to_key: auth.recipientKeyId, mac: auth.mac } : { v: 2, ...fields, sig: auth.signature });
}

export function decodeEnvelope(payload: Uint8Array): SignalEnvelope | { error: string } {
  let raw: unknown;
  try {
    raw = decode(payload);
  } catch {
    return { error: 'signaling payload is not MessagePack' };
  }
  let e = readEnvelope(raw);
  if (!e) {
    const parsed = envelopeSchema.safeParse(raw);
    if (!parsed.success) return { error: `signaling envelope is malformed: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}` };
    e = parsed.data;
  }
  const auth: SignalAuth = e.v === 3 ? { mac: e.mac, recipientKeyId: e.to_key } : { signature: e.sig };
  return { certificate: { signKey: e.cert.sign_key, boxKey: e.cert.box_key, startedAt: e.cert.started_at, signature: e.cert.sig }, seq: e.seq, body: e.body, auth };
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
  const signal = readLinkSignal(raw);
  if (signal) return signal;
  const parsed = linkSignalSchema.safeParse(raw);
  if (!parsed.success) return { error: `signaling payload is malformed: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}` };
  return parsed.data;
}

// --- Fast paths -------------------------------------------------------------------------------
// A link's every signaling message is an envelope around a LinkSignal, each checked against its
// schema. In a burst of joins that was ~7 % of a page's JavaScript, and the schema library's
// internals were among the functions V8 compiled in every new page (docs/BENCHMARKS.md, "Burst").
// These read a decoded value that has exactly the fields consoles write, each of its type and
// within its bounds, and return what the schema would; anything else (an extra field, a value out
// of bounds, an older console's shape) goes to the schema, which has the last word and the error
// messages. tests/unit/engine/signal-codec.test.ts holds them to the schema's verdicts.

type Fields = Record<string, unknown>;

function plainObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}
function keyCount(value: Fields): number {
  let n = 0;
  for (const key in value) if (Object.prototype.hasOwnProperty.call(value, key)) n++;
  return n;
}
const isBytes = (value: unknown, exact: number): value is Uint8Array => value instanceof Uint8Array && value.length === exact;
const isCount = (value: unknown, min: number): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
const isString = (value: unknown, max: number): value is string => typeof value === 'string' && value.length <= max;
const isNullableString = (value: unknown, max: number): value is string | null => value === null || isString(value, max);

export function readLinkSignal(raw: unknown): LinkSignal | undefined {
  if (!plainObject(raw) || raw.v !== 1) return undefined;
  const { from, to, link, description, candidate } = raw;
  if (typeof from !== 'string' || !CONNECTION_ID.test(from)) return undefined;
  if (to !== null && (typeof to !== 'string' || !CONNECTION_ID.test(to))) return undefined;
  let n = 3;
  const signal: LinkSignal = { v: 1, from, to };
  if (link !== undefined) {
    if (!isCount(link, 1)) return undefined;
    signal.link = link;
    n++;
  }
  if (description !== undefined) {
    if (!plainObject(description) || keyCount(description) !== 2) return undefined;
    const { type, sdp } = description;
    if ((type !== 'offer' && type !== 'answer') || !isString(sdp, MAX_SDP_CHARS)) return undefined;
    signal.description = { type, sdp };
    n++;
  }
  if (candidate !== undefined) {
    if (candidate !== null) {
      if (!plainObject(candidate) || keyCount(candidate) !== 4) return undefined;
      const { candidate: line, sdpMid, sdpMLineIndex, usernameFragment } = candidate;
      if (!isString(line, MAX_CANDIDATE_CHARS) || !isNullableString(sdpMid, MAX_MID_CHARS) || !isNullableString(usernameFragment, MAX_UFRAG_CHARS)) return undefined;
      if (sdpMLineIndex !== null && !(isCount(sdpMLineIndex, 0) && sdpMLineIndex <= 255)) return undefined;
      signal.candidate = { candidate: line, sdpMid, sdpMLineIndex, usernameFragment };
    } else signal.candidate = null;
    n++;
  }
  return keyCount(raw) === n ? signal : undefined;
}

type Envelope = z.infer<typeof envelopeSchema>;

export function readEnvelope(raw: unknown): Envelope | undefined {
  if (!plainObject(raw)) return undefined;
  const { v, cert, seq, body } = raw;
  if (keyCount(raw) !== (v === 3 ? 6 : 5)) return undefined;
  if (!plainObject(cert) || keyCount(cert) !== 4) return undefined;
  const { sign_key, box_key, started_at, sig } = cert;
  if (!isBytes(sign_key, 32) || !isBytes(box_key, 32) || !isCount(started_at, 0) || !isBytes(sig, 64)) return undefined;
  if (!isCount(seq, 1) || !(body instanceof Uint8Array) || body.length > MAX_BODY_BYTES) return undefined;
  const fields = { cert: { sign_key, box_key, started_at, sig }, seq, body };
  if (v === 3 && isBytes(raw.to_key, RECIPIENT_KEY_ID_BYTES) && isBytes(raw.mac, 32)) return { v: 3, ...fields, to_key: raw.to_key, mac: raw.mac };
  if (v === 2 && isBytes(raw.sig, 64)) return { v: 2, ...fields, sig: raw.sig };
  return undefined;
}

export function newConnectionId(): string {
  const random = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...random)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
