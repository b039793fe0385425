/**
 * What the registry's refusals mean to a person: what happened, and what to do about it. The
 * code stays available (data-code, diagnostics) but is not what a person reads.
 */
export interface Refusal {
  title: string;
  advice: string;
}

const REFUSALS: Record<string, Refusal> = {
  INVITE_INVALID: { title: 'This invite was not accepted', advice: 'The registry did not issue it, or the link is damaged. Ask the teammate who sent it for a new invite link.' },
  INVITE_EXPIRED: { title: 'This invite has expired', advice: 'Invites are valid for a limited time. Ask for a new invite link.' },
  INVITE_EXHAUSTED: { title: 'This invite has been used up', advice: 'As many consoles as it allows have already joined with it. Ask for a new invite link.' },
  INVITE_REVOKED: { title: 'This invite was revoked', advice: 'The registry’s operator withdrew it, and consoles that joined with it were disconnected. Ask for a new invite link if you should still be in the project.' },
  PROJECT_FULL: { title: 'The project is full', advice: 'The registry allows no more consoles in this project. Ask its operator to raise the limit, or try again when someone leaves.' },
  BAD_SIGNATURE: { title: 'The registry could not check this console’s key', advice: 'This console’s stored keys may be damaged. Export diagnostics from “This console” and send them to whoever runs the registry.' },
  REPLACED: { title: 'This console was opened somewhere else', advice: 'Another window or tab with the same identity joined the project, so this one was disconnected. Use that one, or join again here.' },
  PROTOCOL_UNSUPPORTED: { title: 'This console and the registry do not speak the same version', advice: 'Update this console, or ask the registry’s operator to update the registry.' },
};

/** A refusal in words; an unknown code still says what the registry said, and what to try. */
export function describeRefusal(code: string, message: string): Refusal {
  return REFUSALS[code] ?? { title: 'The registry refused this console', advice: `It said: “${message}”. Try the invite again later, or ask for a new one.` };
}

/** A link's error code in words (the code itself stays beside it, for a bug report). */
const LINK_ERRORS: Record<string, string> = {
  RELAY_OVER_BUDGET: 'The registry’s relay budget for this link is used up: traffic is slowed until it refills.',
  PEER_BACKLOGGED: 'The peer is not keeping up with relayed traffic: it is resent as it catches up.',
  UNKNOWN_PEER: 'The registry does not see this peer right now: the link waits for it to come back.',
  RATE_LIMITED: 'The registry is pacing this link’s signaling: it goes on at a slower rate.',
  NEGOTIATION_FAILED: 'Setting up the connection failed: the link tries again.',
  DATACHANNEL_ERROR: 'The direct connection reported an error: the link falls back or reconnects.',
  BAD_SIGNAL: 'A signaling message for this link was malformed and ignored.',
  SIGNAL_FORGED: 'A signaling message this peer did not sign was refused: the registry may be tampering.',
  SIGNAL_REPLAYED: 'An old signaling message was replayed and refused: the registry may be tampering.',
  RELAY_TAMPERED: 'A relayed message failed its seal and was refused: the registry may be tampering.',
  RELAY_REPLAYED: 'A relayed message was replayed and refused: the registry may be tampering.',
  RELAY_STALE_KEY: 'A relayed message came before the peer’s session key: it is resent.',
  MALFORMED_FRAME: 'A malformed frame from this peer was refused.',
  MESSAGE_TOO_LARGE: 'A message from this peer was too large and was refused.',
  BAD_MESSAGE: 'A message from this peer could not be read and was refused.',
};

export function describeLinkError(code: string, message: string): string {
  return LINK_ERRORS[code] ?? message;
}
