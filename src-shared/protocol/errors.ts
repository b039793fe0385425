/**
 * Every way the registry can refuse something, with the WebSocket close code it uses when the
 * refusal ends the connection (null: the frame is refused, the connection stays). Documented in
 * docs/PROTOCOL.md; the table there is checked against this one by a test.
 */
export const ERRORS = {
  PROTOCOL_UNSUPPORTED: { close: 4001, text: 'the client speaks a protocol version this registry does not' },
  AUTH_TIMEOUT: { close: 4002, text: 'no valid hello arrived before the authentication deadline' },
  AUTH_REQUIRED: { close: 4003, text: 'the first frame must be hello' },
  INVITE_INVALID: { close: 4004, text: 'the invite is malformed or not signed by this registry' },
  INVITE_EXPIRED: { close: 4005, text: 'the invite has expired' },
  INVITE_EXHAUSTED: { close: 4006, text: 'the invite has been used by as many consoles as it allows' },
  BAD_SIGNATURE: { close: 4007, text: 'the key proof does not verify (nonce or box-key signature)' },
  PROJECT_FULL: { close: 4008, text: 'the project has as many consoles as the registry allows' },
  REPLACED: { close: 4009, text: 'a newer connection with the same peer_id took over' },
  FLOOD: { close: 4010, text: 'the connection kept exceeding its rate limit' },
  TOO_MANY_BAD_FRAMES: { close: 4011, text: 'the connection kept sending malformed frames' },
  INVITE_REVOKED: { close: 4012, text: 'the invite was revoked by the registry’s operator: ask for a new one' },
  SHUTTING_DOWN: { close: 1001, text: 'the registry is shutting down' },
  REGISTRY_UNAVAILABLE: { close: 1013, text: 'the registry cannot reach its shared state (Redis) now: try again later or another instance' },
  BAD_FRAME: { close: null, text: 'the frame is not valid MessagePack of a known type and shape' },
  FRAME_TOO_LARGE: { close: null, text: 'the frame exceeds the maximum frame size' },
  RATE_LIMITED: { close: null, text: 'the frame was dropped: rate limit exceeded' },
  RELAY_OVER_BUDGET: { close: null, text: 'the relay frame was not delivered: the pair or project relay budget is used up' },
  UNKNOWN_PEER: { close: null, text: 'to_peer_id is not a console of this project' },
  PEER_BACKLOGGED: { close: null, text: 'the recipient is not reading its frames; this one was dropped' },
  ALREADY_AUTHENTICATED: { close: null, text: 'hello was already accepted on this connection' },
} as const satisfies Record<string, { close: number | null; text: string }>;

export type ErrorCode = keyof typeof ERRORS;
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/** ws closes with 1009 by itself when a frame exceeds the hard cap (4 × max frame size). */
export const CLOSE_MESSAGE_TOO_BIG = 1009;
