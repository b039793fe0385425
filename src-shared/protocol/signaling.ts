/**
 * Registry ⇄ console wire protocol: binary MessagePack frames with a `type` field.
 * Schemas validate every frame in both directions; types are inferred from them.
 * Signaling payloads are opaque bytes: the registry routes them and never parses SDP.
 */
import { z } from '../zod';
import { ERROR_CODES } from './errors';
import { PEER_ID_PATTERN } from '../identity';

export const PROTOCOL_VERSION = 1;
/** Path of the WebSocket endpoint on a registry's HTTP server. */
export const SIGNALING_PATH = '/ws';
/** Cap on the opaque session certificate a console publishes in presence. */
export const MAX_SESSION_CERT_BYTES = 256;

/** Binary fields (MessagePack bin → Uint8Array), optionally of an exact or maximum length. */
export const bytes = (length?: { exact?: number; max?: number }) =>
  z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'must be binary').refine(
    (b) => (length?.exact === undefined || b.length === length.exact) && (length?.max === undefined || b.length <= length.max),
    length?.exact !== undefined ? `must be ${length.exact} bytes` : `must be at most ${length?.max} bytes`,
  );

export const peerIdSchema = z.string().regex(PEER_ID_PATTERN, 'not a peer_id');
export const projectIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, 'project: 1–63 letters, digits, dot, dash, underscore');
/**
 * Explicit bidirectional formatting (embeddings, overrides, isolates: U+202A–U+202E, U+2066–U+2069).
 * A RIGHT-TO-LEFT OVERRIDE turns a name's own letters around, so "\u202EecilA" reads "Alice" while
 * trust on first use compares "ecilA" (name-skeleton.ts): a teammate's name without the warning.
 * A name needs none of them (the bidi algorithm orders Arabic or Hebrew by itself), so they are
 * taken out wherever a name is read — by the registry, by every console from the registry (which
 * could send them anyway), from settings — and what is shown is what is compared.
 */
const BIDI_FORMATTING = /[\u202A-\u202E\u2066-\u2069]/g;
export const displayNameSchema = z
  .string()
  .overwrite((name) => name.replace(BIDI_FORMATTING, ''))
  .trim()
  .min(1, 'a name is needed')
  .max(64, 'at most 64 characters');

/** What a peer says it is. A console that sends no descriptor (an older one) is a console. */
export const CLIENT_KINDS = ['console', 'agent'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];
/**
 * A peer's self-description, relayed by the registry as given: a label for people, never a trust
 * decision (nothing can verify it). Printable ASCII only, so it cannot carry look-alike or
 * direction-changing characters into the peer list.
 */
export const clientInfoSchema = z.object({
  kind: z.enum(CLIENT_KINDS),
  software: z.string().regex(/^[A-Za-z0-9][\x20-\x7e]{0,63}$/, 'software: 1–64 printable ASCII characters, starting with a letter or digit'),
  version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.+_-]{0,31}$/, 'version: 1–32 letters, digits, dot, plus, dash, underscore'),
});
export type ClientInfo = z.infer<typeof clientInfoSchema>;

export const peerInfoSchema = z.object({
  peer_id: peerIdSchema,
  display_name: displayNameSchema,
  signing_key: bytes({ exact: 32 }),
  box_key: bytes({ exact: 32 }),
  box_key_sig: bytes({ exact: 64 }),
  /** The console's session certificate, opaque to the registry (consoles verify it; see PEER-PROTOCOL.md). */
  session_cert: bytes({ max: MAX_SESSION_CERT_BYTES }).optional(),
  /** Copied from its `hello`, when given: console or agent, and which software (a label, unverified). */
  client: clientInfoSchema.optional(),
  joined_at: z.number().int().nonnegative(),
});
export type PeerInfo = z.infer<typeof peerInfoSchema>;

export const iceServerSchema = z.object({
  urls: z.array(z.string()).min(1),
  username: z.string().optional(),
  credential: z.string().optional(),
});
export type IceServer = z.infer<typeof iceServerSchema>;

export const SIGNAL_TYPES = ['webrtc_offer', 'webrtc_answer', 'webrtc_ice_candidate'] as const;
export type SignalType = (typeof SIGNAL_TYPES)[number];
/** Largest opaque signaling payload (an SDP with many candidates stays well below this). */
export const MAX_SIGNAL_PAYLOAD_BYTES = 32 * 1024;
/** Absolute cap on a sealed relay blob; the registry's max frame size (in `welcome`) is lower. */
export const MAX_RELAY_PAYLOAD_BYTES = 1024 * 1024;

// --- console → registry ---------------------------------------------------------------------

export const helloSchema = z.object({
  type: z.literal('hello'),
  protocol: z.number().int(),
  invite: z.string().min(1).max(4096),
  display_name: displayNameSchema,
  signing_key: bytes({ exact: 32 }),
  box_key: bytes({ exact: 32 }),
  box_key_sig: bytes({ exact: 64 }),
  /** Opaque to the registry: published in presence so peers can check it before signaling starts. */
  session_cert: bytes({ max: MAX_SESSION_CERT_BYTES }).optional(),
  /** What this peer is (console or agent, its software and version): published in presence as given. */
  client: clientInfoSchema.optional(),
  /** Ed25519 signature over signedMessage('registryAuth', challenge nonce). */
  nonce_sig: bytes({ exact: 64 }),
});

const outgoingSignalSchema = <T extends SignalType>(type: T) =>
  z.object({ type: z.literal(type), to_peer_id: peerIdSchema, payload: bytes({ max: MAX_SIGNAL_PAYLOAD_BYTES }) });

export const clientFrameSchema = z.discriminatedUnion('type', [
  helloSchema,
  outgoingSignalSchema('webrtc_offer'),
  outgoingSignalSchema('webrtc_answer'),
  outgoingSignalSchema('webrtc_ice_candidate'),
  /** An end-to-end sealed blob for another console (the registry relay): opaque to the registry. */
  z.object({ type: z.literal('relay'), to_peer_id: peerIdSchema, payload: bytes({ max: MAX_RELAY_PAYLOAD_BYTES }) }),
  /** A new display name: the registry updates the console's presence and tells the project, keeping the connection. */
  z.object({ type: z.literal('update_presence'), display_name: displayNameSchema }),
  /**
   * Keepalive: answered with `pong`. Browsers answer the registry's WebSocket pings without telling
   * the page, so a console learns that its socket is dead only by asking (see docs/PROTOCOL.md §1).
   */
  z.object({ type: z.literal('ping') }),
]);
export type ClientFrame = z.infer<typeof clientFrameSchema>;
export type HelloFrame = z.infer<typeof helloSchema>;

/**
 * A hello sent with the WebSocket upgrade, before any challenge (early-hello.ts): `nonce_sig`
 * signs signedMessage('registryHello', earlyHelloPayload(early_at, early_salt)), not a challenge's nonce.
 */
export const earlyHelloSchema = helloSchema.extend({
  /** When the console made it (ms since epoch, its clock): the registry accepts it only near its own time. */
  early_at: z.number().int().nonnegative(),
  /** Fresh random bytes: with early_at, what makes each early hello's nonce unique. */
  early_salt: bytes({ exact: 16 }),
});
export type EarlyHelloFrame = z.infer<typeof earlyHelloSchema>;

// --- registry → console ---------------------------------------------------------------------

const incomingSignalSchema = <T extends SignalType>(type: T) =>
  z.object({
    type: z.literal(type),
    from_peer_id: peerIdSchema,
    to_peer_id: peerIdSchema,
    payload: bytes({ max: MAX_SIGNAL_PAYLOAD_BYTES }),
  });

/** Why a console left: its connection closed, it missed a heartbeat, or the registry removed it from the project (its invite revoked). */
const leaveReasonSchema = z.enum(['closed', 'timeout', 'kicked']);

export const serverFrameSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('challenge'),
    protocol: z.number().int(),
    nonce: bytes({ exact: 32 }),
  }),
  z.object({
    type: z.literal('welcome'),
    protocol: z.number().int(),
    peer_id: peerIdSchema,
    project_id: projectIdSchema,
    peers: z.array(peerInfoSchema),
    ice_servers: z.array(iceServerSchema),
    /** When the TURN credentials in ice_servers expire (ms since epoch); 0 when there are none. */
    ice_servers_expire_at: z.number().int().nonnegative(),
    limits: z.object({
      max_frame_bytes: z.number().int().positive(),
      frames_per_second: z.number().positive(),
      burst: z.number().int().positive(),
      heartbeat_ms: z.number().int().positive(),
    }),
  }),
  z.object({ type: z.literal('peer_joined'), peer: peerInfoSchema }),
  z.object({
    type: z.literal('peer_left'),
    peer_id: peerIdSchema,
    reason: leaveReasonSchema,
  }),
  incomingSignalSchema('webrtc_offer'),
  incomingSignalSchema('webrtc_answer'),
  incomingSignalSchema('webrtc_ice_candidate'),
  z.object({
    type: z.literal('relay'),
    from_peer_id: peerIdSchema,
    to_peer_id: peerIdSchema,
    payload: bytes({ max: MAX_RELAY_PAYLOAD_BYTES }),
  }),
  /** Relay bytes between this console and `peer_id`, and the project's, against the budgets. */
  z.object({
    type: z.literal('relay_usage'),
    peer_id: peerIdSchema,
    pair_bytes: z.number().nonnegative(),
    pair_bytes_per_s: z.number().nonnegative(),
    project_bytes_today: z.number().nonnegative(),
    pair_budget_bytes_per_s: z.number().positive(),
    project_budget_bytes_per_day: z.number().positive(),
  }),
  /** The answer to a console's `ping`. */
  z.object({ type: z.literal('pong') }),
  /** Fresh ICE servers (new TURN credentials) before the previous ones expire. */
  z.object({ type: z.literal('ice_servers'), ice_servers: z.array(iceServerSchema), expires_at: z.number().int().nonnegative() }),
  z.object({
    type: z.literal('error'),
    code: z.enum(ERROR_CODES as [string, ...string[]]),
    message: z.string(),
    /** The type of the client frame that caused it, when known. */
    ref_type: z.string().optional(),
    /** The to_peer_id of the refused frame, for frames routed to a peer. */
    ref_peer_id: peerIdSchema.optional(),
  }),
]);
export type ServerFrame = z.infer<typeof serverFrameSchema>;
export type LeaveReason = z.infer<typeof leaveReasonSchema>;
export type WelcomeFrame = Extract<ServerFrame, { type: 'welcome' }>;
export type IncomingSignal = Extract<ServerFrame, { type: SignalType }>;
export type RelayFrame = Extract<ServerFrame, { type: 'relay' }>;
export type RelayUsageFrame = Extract<ServerFrame, { type: 'relay_usage' }>;
