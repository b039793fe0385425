/**
 * Paces what a console sends its registry to the registry's own limit (`welcome.limits`:
 * `frames_per_second`, `burst`). The registry drops a frame beyond it (RATE_LIMITED, one notice a
 * second, the rest silently), and a dropped offer or candidate then waited on the link's timers;
 * here a burst of signaling waits its turn instead. Frames leave in order; a keepalive goes first
 * (it must not wait behind a burst). Nothing is dropped, except when the connection itself goes.
 */
import { TokenBucket } from '../../src-shared/token-bucket';
import type { Clock } from './clock';

export class FramePacer<T> {
  private bucket: TokenBucket | undefined;
  private queue: T[] = [];
  private timer: unknown;
  private armed = false;
  private lastReport = 0;
  /** Frames sent before the limits were known (the hello): the registry counted them too. */
  private unpaced = 0;

  constructor(
    private readonly transmit: (frame: T) => void,
    private readonly clock: Clock,
    /** Told how many frames wait: when some start waiting, when none do, and every half second between. */
    private readonly onQueue: (queued: number) => void = () => undefined,
  ) {}

  /** A new connection's limits (its bucket at the registry starts full). Unpaced until called. */
  setLimits(framesPerSecond: number, burst: number): void {
    this.bucket = new TokenBucket(framesPerSecond, burst, () => this.clock.now());
    for (; this.unpaced > 0; this.unpaced--) this.bucket.take();
  }

  get queued(): number {
    return this.queue.length;
  }

  send(frame: T, first = false): void {
    if (!this.bucket) {
      this.unpaced++;
      return this.transmit(frame);
    }
    if (this.queue.length === 0 && this.bucket.take()) return this.transmit(frame);
    if (first) this.queue.unshift(frame);
    else this.queue.push(frame);
    if (this.queue.length === 1) this.report(true);
    this.arm();
  }

  /** The registry says its bucket is empty (RATE_LIMITED): ours was ahead of it, so wait as it does. */
  drain(): void {
    this.bucket?.drain();
  }

  /** The connection is gone: what waits was meant for it. */
  clear(): void {
    const had = this.queue.length > 0;
    this.queue = [];
    this.bucket = undefined;
    this.unpaced = 0;
    if (this.armed) this.clock.clearTimeout(this.timer);
    this.armed = false;
    if (had) this.report(true);
  }

  private arm(): void {
    if (this.armed || !this.bucket) return;
    this.armed = true;
    this.timer = this.clock.setTimeout(() => {
      this.armed = false;
      this.flush();
    }, Math.max(1, this.bucket.msUntil()));
  }

  private flush(): void {
    while (this.queue.length > 0 && this.bucket?.take()) this.transmit(this.queue.shift()!);
    if (this.queue.length > 0) this.arm();
    this.report(this.queue.length === 0);
  }

  private report(always: boolean): void {
    const now = this.clock.now();
    if (!always && now - this.lastReport < 500) return;
    this.lastReport = now;
    this.onQueue(this.queue.length);
  }
}
