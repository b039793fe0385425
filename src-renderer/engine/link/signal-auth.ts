/**
 * Signaling authentication for one link: which session of the peer it talks to, and whether a
 * signaling message really is that peer's, unaltered and new. The registry carries signaling and
 * could forge, alter or replay it; peers check for themselves.
 *
 * Outgoing messages are MAC'd under the key shared with the peer's current session (signal-key.ts)
 * when it is known, else signed with this session's key; they leave in call order. Incoming ones
 * are checked in two steps: `check` (decoding, certificate, signature or MAC: expensive and
 * stateless, so several run side by side) and `accept`, in arrival order, against what is known:
 * the certificate not older than the peer's current one, the sequence number new.
 */
import { ed25519Verify } from '../../../src-shared/identity';
import { verifyCertificate, type SessionCertificate, type SessionSecrets } from '../../../src-shared/session-certificate';
import type { SignalType } from '../../../src-shared/protocol/signaling';
import { equalBytes } from '../../../src-shared/bytes';
import { decodeEnvelope, encodeEnvelope, signalMacBytes, signalSignedBytes, type SignalAuth } from './signal-codec';
import { deriveSignalKey, recipientKeyId, signalMac, signalMacValid, type SignalKey } from './signal-key';

export interface SignalAuthOptions {
  localPeerId: string;
  remotePeerId: string;
  /** The peer's identity key (its peer_id derives from it): everything it signs is checked against it. */
  remoteSigningKey: Uint8Array;
  projectId: string;
  /** This console's session: certificate and secret keys. */
  session: SessionSecrets;
  /** Signs with the session's signaling key. */
  sign: (message: Uint8Array) => Promise<Uint8Array>;
  /** This session's signaling sequence: strictly increasing across all its links. */
  nextSeq: () => number;
}

export type CheckedSignal =
  | { error: string }
  /** MAC'd for an earlier session of this console: not forged, just late. */
  | { stale: true }
  | { envelope: Exclude<ReturnType<typeof decodeEnvelope>, { error: string }>; certificateOk: boolean; authentic: boolean; signalKey?: SignalKey };

/** What `accept` decided about a checked message. */
export type SignalVerdict =
  | { ok: true; body: Uint8Array; newSession?: { certificate: SessionCertificate; signalKey?: SignalKey } }
  | { ok: false; code: 'BAD_SIGNAL' | 'SIGNAL_FORGED' | 'SIGNAL_REPLAYED'; message: string }
  /** Late, not forged: dropped without an alarm. */
  | { ok: false; code: 'STALE'; message: string };

export class SignalAuthenticator {
  private remoteCertificate: SessionCertificate | undefined;
  /** Shared with the peer's current session, once derived: messages are MAC'd, not signed. */
  private signalKey: SignalKey | undefined;
  private lastRemoteSeq = 0;
  private outbox: Promise<void> = Promise.resolve();

  constructor(private readonly options: SignalAuthOptions) {}

  /** The peer's session the link talks to, when known. */
  get certificate(): SessionCertificate | undefined {
    return this.remoteCertificate;
  }

  /**
   * Authenticates a signaling body and hands the envelope to `deliver`, in call order (the
   * sequence number is taken now, a signature a moment later). Resolves when it is handed over;
   * rejects if signing failed.
   */
  send(type: SignalType, inner: Uint8Array, deliver: (payload: Uint8Array) => void): Promise<void> {
    const seq = this.options.nextSeq();
    const { localPeerId, remotePeerId, projectId, session } = this.options;
    const key = this.signalKey;
    let authenticating: Promise<SignalAuth>;
    if (key) {
      const recipient = recipientKeyId(key.peerBoxKey);
      authenticating = Promise.resolve({ mac: signalMac(key, signalMacBytes(type, localPeerId, remotePeerId, projectId, seq, recipient, inner)), recipientKeyId: recipient });
    } else {
      // Signing starts at once (several run side by side); sending keeps the call order.
      authenticating = this.options.sign(signalSignedBytes(type, localPeerId, remotePeerId, projectId, seq, inner)).then((signature) => ({ signature }));
    }
    const sent = this.outbox.then(async () => deliver(encodeEnvelope({ certificate: session.certificate, seq, body: inner, auth: await authenticating })));
    this.outbox = sent.catch(() => undefined);
    return sent;
  }

  /**
   * The expensive, stateless part: decoding, the certificate check (unless it is the one we know)
   * and the signature or MAC check (deriving the key first for a new session).
   */
  check(type: SignalType, payload: Uint8Array): Promise<CheckedSignal> {
    const envelope = decodeEnvelope(payload);
    if ('error' in envelope) return Promise.resolve({ error: envelope.error });
    const { localPeerId, remotePeerId, projectId, session } = this.options;
    const { certificate, auth, seq, body } = envelope;
    const known = this.remoteCertificate;
    const certificateValid = known && sameCertificate(known, certificate) ? Promise.resolve(true) : verifyCertificate(certificate, this.options.remoteSigningKey);
    if ('signature' in auth) {
      const signatureValid = ed25519Verify(certificate.signKey, signalSignedBytes(type, remotePeerId, localPeerId, projectId, seq, body), auth.signature);
      return Promise.all([certificateValid, signatureValid]).then(([certificateOk, authentic]) => ({ envelope, certificateOk, authentic }));
    }
    if (!equalBytes(auth.recipientKeyId, recipientKeyId(session.certificate.boxKey))) return Promise.resolve({ stale: true });
    const current = this.signalKey;
    const key = current && equalBytes(current.peerBoxKey, certificate.boxKey) ? Promise.resolve(current) : deriveSignalKey(session, certificate);
    return Promise.all([certificateValid, key]).then(([certificateOk, signalKey]) => ({
      envelope,
      certificateOk,
      authentic: signalKey !== undefined && signalMacValid(signalKey, signalMacBytes(type, remotePeerId, localPeerId, projectId, seq, auth.recipientKeyId, body), auth.mac),
      ...(signalKey ? { signalKey } : {}),
    }));
  }

  /**
   * Checks, in arrival order, that a signaling message comes from this peer, unaltered, meant for
   * this console in this project, and not seen before: the session certificate verifies against
   * the peer's identity key and is not older than the one we know, the sequence number is new,
   * and the signature (or MAC) covers type, sender, recipient, project, sequence and body. A
   * message from a new session of the peer says so (`newSession`): the caller adopts it.
   */
  accept(type: SignalType, checked: CheckedSignal): SignalVerdict {
    if ('error' in checked) return { ok: false, code: 'BAD_SIGNAL', message: checked.error };
    if ('stale' in checked) return { ok: false, code: 'STALE', message: `a ${type} made for an earlier session of this console: dropped` };
    const { envelope, certificateOk, authentic } = checked;
    const { certificate } = envelope;
    const known = this.remoteCertificate;
    const newSession = !known || !equalBytes(known.signKey, certificate.signKey);
    if (newSession && known && certificate.startedAt <= known.startedAt) {
      return { ok: false, code: 'SIGNAL_REPLAYED', message: 'a signaling message from an older session of this peer was resent' };
    }
    if (!certificateOk) return { ok: false, code: 'SIGNAL_FORGED', message: 'a session certificate not signed by this peer (possible tampering registry)' };
    if (!newSession && envelope.seq <= this.lastRemoteSeq) {
      return { ok: false, code: 'SIGNAL_REPLAYED', message: `signaling message ${envelope.seq} was already received (replay)` };
    }
    if (!authentic) return { ok: false, code: 'SIGNAL_FORGED', message: `a ${type} whose signature or MAC does not verify (altered on the way: possible tampering registry)` };
    this.lastRemoteSeq = envelope.seq;
    return { ok: true, body: envelope.body, ...(newSession ? { newSession: { certificate, ...(checked.signalKey ? { signalKey: checked.signalKey } : {}) } } : {}) };
  }

  /**
   * Talks to this (verified) session of the peer from now on; true if it replaces another (the
   * peer restarted). Messages to it are MAC'd once the key shared with it is known: given, or
   * derived now (signed meanwhile).
   */
  adopt(certificate: SessionCertificate, signalKey?: SignalKey): boolean {
    const restarted = Boolean(this.remoteCertificate);
    this.remoteCertificate = certificate;
    if (signalKey && equalBytes(signalKey.peerBoxKey, certificate.boxKey)) this.signalKey = signalKey;
    else {
      this.signalKey = undefined;
      void deriveSignalKey(this.options.session, certificate).then(
        (key) => void (this.remoteCertificate === certificate && (this.signalKey = key)),
        () => undefined,
      );
    }
    return restarted;
  }
}

function sameCertificate(a: SessionCertificate, b: SessionCertificate): boolean {
  return a.startedAt === b.startedAt && equalBytes(a.signKey, b.signKey) && equalBytes(a.signature, b.signature) && equalBytes(a.boxKey, b.boxKey);
}
