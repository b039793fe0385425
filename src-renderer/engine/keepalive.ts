/**
 * Notices a dead registry socket. The registry pings every `heartbeat_ms` at the WebSocket level,
 * but a browser answers those pings itself and never tells the page, so a socket that died
 * without a close (a laptop asleep, a NAT that forgot the mapping, a proxy that stopped
 * forwarding) used to say "Connected" until the operating system gave up, minutes later.
 *
 * So the console asks: after `heartbeat_ms / 2` without a frame from the registry it sends a
 * `ping` (answered with `pong`), and if nothing at all arrives in the `heartbeat_ms / 2` after it,
 * the connection is given up: at most `heartbeat_ms` after the last frame heard. Any frame counts
 * as an answer, so a busy connection never pings. The timer is not re-armed per frame: it looks at
 * when the last frame came when it fires. A timer that fires late (a suspended laptop, a throttled
 * background tab) sends a ping first rather than declaring the socket dead at once.
 */
import type { Clock } from './clock';

export interface KeepaliveOptions {
  heartbeatMs: number;
  clock: Clock;
  ping(): void;
  /** Nothing came for this long, the last `heartbeat_ms / 2` of it after a ping. */
  dead(silentMs: number): void;
}

export class Keepalive {
  private lastHeard: number;
  private pingSentAt: number | undefined;
  private timer: unknown;
  private stopped = false;
  private readonly idleMs: number;
  private readonly answerMs: number;

  constructor(private readonly options: KeepaliveOptions) {
    this.idleMs = Math.max(1, Math.floor(options.heartbeatMs / 2));
    this.answerMs = Math.max(1, options.heartbeatMs - this.idleMs);
    this.lastHeard = options.clock.now();
    this.schedule(this.idleMs);
  }

  /** A frame came from the registry. */
  heard(): void {
    this.lastHeard = this.options.clock.now();
    this.pingSentAt = undefined;
  }

  stop(): void {
    this.stopped = true;
    this.options.clock.clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.options.clock.setTimeout(() => this.check(), Math.max(1, ms));
  }

  private check(): void {
    if (this.stopped) return;
    const now = this.options.clock.now();
    if (this.pingSentAt !== undefined) {
      const waited = now - this.pingSentAt;
      if (waited >= this.answerMs) {
        this.stopped = true;
        return this.options.dead(now - this.lastHeard);
      }
      return this.schedule(this.answerMs - waited);
    }
    const silent = now - this.lastHeard;
    if (silent < this.idleMs) return this.schedule(this.idleMs - silent);
    this.pingSentAt = now;
    this.options.ping();
    this.schedule(this.answerMs);
  }
}
