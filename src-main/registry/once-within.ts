/**
 * Keys accepted at most once while they are remembered (early hellos' nonces, connection.ts): a
 * replay within the time an early hello is valid finds its nonce here. Entries are forgotten in
 * the order they were added, as their time runs out; when `max` are remembered, nothing more is
 * accepted until some are forgotten (the early hello then takes the challenge's way).
 */
export class OnceWithin {
  private readonly forgetAt = new Map<string, number>();

  constructor(
    private readonly rememberMs: number,
    private readonly max: number,
    private readonly now: () => number,
  ) {}

  /** True the first time `key` is claimed while remembered; false after that, or when full. */
  claim(key: string): boolean {
    const now = this.now();
    for (const [old, at] of this.forgetAt) {
      if (at > now) break;
      this.forgetAt.delete(old);
    }
    if (this.forgetAt.has(key) || this.forgetAt.size >= this.max) return false;
    this.forgetAt.set(key, now + this.rememberMs);
    return true;
  }
}
