/**
 * Failed logins per key (a client address, a user name) in fixed windows. Once a key reaches the
 * limit every login for it is refused until its window ends — a correct password included, or a
 * guesser would learn when it hit. A success does not clear the count: an attacker who owns one
 * account could otherwise reset the address counter between guesses at another.
 */
export class LoginLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** Seconds until every key may try again, or 0 when none is blocked. */
  retryAfter(keys: readonly string[]): number {
    const now = this.now();
    let until = 0;
    for (const key of keys) {
      const w = this.windows.get(key);
      if (w && w.resetAt > now && w.count >= this.limit) until = Math.max(until, w.resetAt);
    }
    return until ? Math.max(1, Math.ceil((until - now) / 1000)) : 0;
  }

  recordFailure(keys: readonly string[]): void {
    const now = this.now();
    for (const key of keys) {
      const w = this.windows.get(key);
      if (w && w.resetAt > now) w.count++;
      else {
        this.makeRoom(now);
        this.windows.delete(key);
        this.windows.set(key, { count: 1, resetAt: now + this.windowMs });
      }
    }
  }

  /** Bounded memory under a flood of distinct addresses or names: expired first, then the oldest. */
  private makeRoom(now: number): void {
    if (this.windows.size < this.maxKeys) return;
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    while (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value as string);
  }
}
