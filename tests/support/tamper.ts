/**
 * What a malicious registry could do to the frames it carries, for tests of the consoles' defences.
 * Each function returns a modified copy; signatures are left as they were, as an attacker without
 * the consoles' keys would have to.
 */
import type { ServerFrame } from '../../src-shared/protocol/signaling';
import { decodeEnvelope, decodeLinkSignal, encodeEnvelope, encodeLinkSignal } from '../../src-renderer/engine/link/signal-codec';

type Signal = Extract<ServerFrame, { type: 'webrtc_offer' | 'webrtc_answer' | 'webrtc_ice_candidate' }>;

function rewriteBody(frame: Signal, edit: (signal: NonNullable<ReturnType<typeof asSignal>>) => void): Signal {
  const envelope = decodeEnvelope(frame.payload);
  if ('error' in envelope) throw new Error(envelope.error);
  const signal = asSignal(envelope.body);
  if (!signal) return frame;
  edit(signal);
  return { ...frame, payload: encodeEnvelope({ ...envelope, body: encodeLinkSignal(signal) }) };
}

function asSignal(body: Uint8Array) {
  const signal = decodeLinkSignal(body);
  return 'error' in signal ? undefined : signal;
}

/** Replaces the DTLS certificate fingerprint in an offer or answer: the man-in-the-middle attack. */
export function swapFingerprint(frame: Signal): Signal {
  return rewriteBody(frame, (signal) => {
    if (!signal.description) return;
    signal.description.sdp = signal.description.sdp.replace(/a=fingerprint:sha-256 ([0-9A-F]{2})/, (_m, first: string) => `a=fingerprint:sha-256 ${first === 'AA' ? 'BB' : 'AA'}`);
  });
}

/** Points a candidate at another address. */
export function swapCandidateAddress(frame: Signal): Signal {
  return rewriteBody(frame, (signal) => {
    if (signal.candidate) signal.candidate.candidate = signal.candidate.candidate.replace(/ 127\.0\.0\.1 /, ' 127.0.0.2 ');
  });
}

/** Substitutes the relay key in the sender's session certificate. */
export function swapCertificateBoxKey(frame: Signal): Signal {
  const envelope = decodeEnvelope(frame.payload);
  if ('error' in envelope) throw new Error(envelope.error);
  const boxKey = crypto.getRandomValues(new Uint8Array(32));
  return { ...frame, payload: encodeEnvelope({ ...envelope, certificate: { ...envelope.certificate, boxKey } }) };
}

/** Substitutes a console's published box key in presence. */
export function swapPresenceBoxKey(frame: ServerFrame): ServerFrame {
  const swap = <T extends { box_key: Uint8Array }>(peer: T): T => ({ ...peer, box_key: crypto.getRandomValues(new Uint8Array(32)) });
  if (frame.type === 'welcome') return { ...frame, peers: frame.peers.map(swap) };
  if (frame.type === 'peer_joined') return { ...frame, peer: swap(frame.peer) };
  return frame;
}

/** Flips one byte of a relay blob. */
export function flipRelayByte(frame: Extract<ServerFrame, { type: 'relay' }>): ServerFrame {
  const payload = frame.payload.slice();
  payload[payload.length - 5]! ^= 0x01;
  return { ...frame, payload };
}
