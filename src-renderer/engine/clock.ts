/** Time and timers, injectable so that pacing and keepalive can be tested without waiting. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Epoch milliseconds that never jump: the page's start plus a monotonic count, so an NTP correction
 * or a changed system clock cannot make the keepalive think a socket went silent, nor the pacer
 * hand out a burst (Date.now() can go back or leap forward).
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};
