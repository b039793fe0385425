/**
 * The registry relay as a path for a link's stream: each frame addressed from this end's link to
 * the peer's (link-epochs.ts), sealed for the peer's current session (relay-seal.ts) and sent
 * through the registry connection (LinkPort); blobs from the peer opened and checked the same way.
 * While paused (the registry or the peer is away) it takes nothing, and the stream keeps what is
 * unacknowledged. The registry socket has no 'drained' event, so while the relay carries the
 * stream it is pumped on a short interval.
 *
 * When to relay is PeerLink's and the path policy's decision; this is only the path.
 */
import type { SessionSecrets } from '../../../src-shared/session-certificate';
import { decodeRelayFrame, encodeRelayFrame, RELAY_LINK_HEADER_BYTES, type LinkEpochs } from './link-epochs';
import { RelaySeal, SEAL_OVERHEAD } from './relay-seal';
import type { ReliableStream, StreamPath } from './reliable-stream';
import type { LinkErrorCode, LinkPort } from './link-types';

export const RELAY_PATH_ID = 'relay';
/** Room for the `relay` frame's own MessagePack fields around the sealed blob. */
const RELAY_FRAME_OVERHEAD = 128;
const PUMP_INTERVAL_MS = 10;

export type OpenedRelayFrame = { ok: true; from: number; to: number; frame: Uint8Array } | { ok: false; code: LinkErrorCode; message: string };

export class RelayPath implements StreamPath {
  readonly id = RELAY_PATH_ID;
  /** The relay waits: the registry connection is down, or the peer is not at the registry (yet). */
  paused = false;
  private seal: RelaySeal | undefined;
  private pumpTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly port: LinkPort,
    private readonly epochs: LinkEpochs,
  ) {}

  get maxFrameBytes(): number {
    return this.port.relayMaxFrameBytes() - RELAY_FRAME_OVERHEAD - SEAL_OVERHEAD - RELAY_LINK_HEADER_BYTES;
  }

  canSend(): boolean {
    return !this.paused && this.port.relayWritable();
  }

  send(frame: Uint8Array): void {
    if (!this.seal) throw new Error('no session key from the peer yet');
    const addressed = encodeRelayFrame(this.epochs.local, this.epochs.remote ?? 0, frame);
    if (!this.port.sendRelay(this.seal.seal(addressed))) throw new Error('the registry is not connected');
  }

  /** Whether it can seal: the peer's session key is known. */
  get sealed(): boolean {
    return this.seal !== undefined;
  }

  /** Seals for this session of the peer from now on (its certified box key). */
  sealFor(session: SessionSecrets, peerBoxKey: Uint8Array): void {
    this.seal = new RelaySeal(session.certificate.boxKey, session.boxSecretKey, peerBoxKey);
  }

  /** Opens a blob from the peer: authentic, new, and addressed (which of its links, to which of ours). */
  open(blob: Uint8Array): OpenedRelayFrame {
    if (!this.seal) return { ok: false, code: 'RELAY_STALE_KEY', message: 'relay blob before the peer’s session key is known' };
    const opened = this.seal.open(blob);
    if (!opened.ok) return opened;
    const addressed = decodeRelayFrame(opened.plaintext);
    if ('error' in addressed) return { ok: false, code: 'MALFORMED_FRAME', message: addressed.error };
    return { ok: true, ...addressed };
  }

  /** Keeps the stream moving while the relay carries it (nothing tells when the registry socket drained). */
  pump(stream: () => ReliableStream): void {
    clearInterval(this.pumpTimer);
    this.pumpTimer = setInterval(() => {
      if (this.paused) return;
      const s = stream().stats();
      if (s.queuedBytes > 0 || s.unackedBytes > 0) stream().pump();
    }, PUMP_INTERVAL_MS);
  }

  stopPump(): void {
    clearInterval(this.pumpTimer);
  }
}
