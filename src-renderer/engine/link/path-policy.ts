/**
 * When a link relays and when it tries direct again: the decisions and their timers, apart from
 * the RTCPeerConnection they are about, on an injectable clock (unit-tested with a manual one).
 *
 * - A negotiation that has no DataChannel after `fallbackAfterMs` → relay through the registry,
 *   and retry direct with backoff (`directRetry`); the impolite side makes the new connection
 *   (the polite one answers it), both keep the schedule. A retry is a negotiation like any other:
 *   one that opens nothing in `fallbackAfterMs` counts as the next attempt from then.
 * - ICE `disconnected` for `disconnectGraceMs` → ICE restart; no path `fallbackAfterMs` after the
 *   restart, or a stack without ICE restarts → treated as failed.
 * - Failed (ICE or connection) → a DataChannel still saying 'open' is dropped (its transport
 *   carries nothing) and the link relays at once; direct is retried with backoff.
 * - A DataChannel opens → back to direct (the stream moves without loss: reliable-stream.ts), and
 *   the backoff starts over.
 *
 * PeerLink reports what happens (`negotiationStarted`, `channelOpened`, `iceState`, `failed`…)
 * and carries out what this decides through `PathActions`.
 */
import { backoffDelay, type BackoffPolicy } from '../backoff';
import type { Clock } from '../clock';
import { Timers } from './timers';

export interface PathPolicyConfig {
  fallbackAfterMs: number;
  disconnectGraceMs: number;
  directRetry: BackoffPolicy;
}

/** What the policy asks of the link. */
export interface PathActions {
  /** Whether a DataChannel carries the link now. */
  hasChannel(): boolean;
  /** Move to the registry relay (nothing if a DataChannel carries the link, or it relays already). */
  relay(reason: string): void;
  /** Drop the DataChannel (its transport failed); the link then reports `channelLost`. */
  dropChannel(reason: string): void;
  /** Make a new RTCPeerConnection. */
  reconnect(reason: string): void;
  /** Restart ICE on the current connection; false where the stack cannot. */
  restartIce(reason: string): boolean;
}

type PolicyTimer = 'fallback' | 'retry-direct' | 'disconnect' | 'restart-timeout';

export class PathPolicy {
  private readonly timers: Timers<PolicyTimer>;
  private retryAttempt = 0;
  private closed = false;

  constructor(
    private readonly config: () => PathPolicyConfig,
    /** The polite side answers the impolite side's new connections rather than making its own. */
    private readonly polite: boolean,
    private readonly actions: PathActions,
    clock: Clock,
  ) {
    this.timers = new Timers(clock);
  }

  /** A connection started negotiating: relay if no DataChannel opens in time. */
  negotiationStarted(): void {
    if (this.closed || this.actions.hasChannel()) return;
    const { fallbackAfterMs } = this.config();
    this.timers.set('fallback', fallbackAfterMs, () => {
      if (this.closed || this.actions.hasChannel()) return;
      this.actions.relay(`no DataChannel ${fallbackAfterMs} ms after negotiation started`);
      this.scheduleDirectRetry('fallback');
    });
  }

  channelOpened(): void {
    this.timers.clear('fallback');
    this.timers.clear('retry-direct');
    this.retryAttempt = 0;
  }

  /** The DataChannel is gone (closed, or dropped as failed): relay at once, retry direct later. */
  channelLost(reason: string, relayReason: string): void {
    this.actions.relay(relayReason);
    this.scheduleDirectRetry(reason);
  }

  /** The connection was replaced or closed: its ICE timers go with it. */
  connectionClosed(): void {
    this.timers.clear('disconnect');
  }

  /** An ICE state of the current connection; `current` says whether it still is when a timer fires. */
  iceState(state: RTCIceConnectionState, current: () => RTCIceConnectionState | undefined): void {
    if (state === 'disconnected') {
      // Often transient (a lost packet or two); a network change needs an ICE restart.
      const { disconnectGraceMs } = this.config();
      this.timers.set('disconnect', disconnectGraceMs, () => {
        if (current() !== 'disconnected') return;
        if (!this.restartIce(`disconnected for ${disconnectGraceMs} ms`)) return;
        // Found by the NAT lab (TURN killed under a TURN-only link): a restart that finds no
        // path can leave ICE 'disconnected' or 'checking' for good while the DataChannel still
        // says 'open'. Give the restart the fallback time, then treat the connection as failed.
        const { fallbackAfterMs } = this.config();
        this.timers.set('restart-timeout', fallbackAfterMs, () => {
          const now = current();
          if (now !== undefined && now !== 'connected' && now !== 'completed') this.failed(`no path ${fallbackAfterMs} ms after an ICE restart`);
        });
      });
    } else {
      this.timers.clear('disconnect');
    }
    if (state === 'connected' || state === 'completed') this.timers.clear('restart-timeout');
    if (state === 'failed') this.failed('ICE failed');
  }

  /**
   * Restarts ICE; where the stack cannot (node-datachannel: libdatachannel has none), the
   * connection is treated as failed: the link relays at once and retries direct later.
   */
  restartIce(reason: string): boolean {
    if (this.actions.restartIce(reason)) return true;
    this.failed(`${reason}, and no ICE restart on this stack`);
    return false;
  }

  /** The connection (or ICE) failed. */
  failed(reason: string): void {
    if (this.closed || this.timers.has('retry-direct')) return;
    // A DataChannel over a failed transport carries nothing, though it may still say 'open':
    // drop it, so the stream resends what it held over the relay (found by the NAT lab).
    if (this.actions.hasChannel()) return this.actions.dropChannel(reason);
    // ICE failing (again) means no direct path for now: relay right away, retry direct later.
    this.actions.relay(reason);
    this.scheduleDirectRetry(reason);
  }

  /** Direct paths are allowed again (diagnostics): try at once, backoff from the start. */
  directAllowed(): void {
    this.retryAttempt = 0;
    this.timers.clear('retry-direct');
  }

  close(): void {
    this.closed = true;
    this.timers.clearAll();
  }

  /** While relayed, try a fresh direct connection with backoff (the impolite side makes it). */
  private scheduleDirectRetry(reason: string): void {
    if (this.closed || this.actions.hasChannel()) return;
    const delay = backoffDelay(++this.retryAttempt, this.config().directRetry);
    this.timers.set('retry-direct', delay, () => {
      if (this.closed || this.actions.hasChannel()) return;
      if (!this.polite) this.actions.reconnect(`retry direct (${reason})`);
      this.scheduleDirectRetry(reason);
    });
  }
}
