/**
 * In-memory request budgets for the abuse defences in app.ts: fixed windows keyed by client IP
 * (before authentication), by verified identity (after it) and by failed authentications (the
 * lockout). One process holds them; a restart forgets them, which only ever gives budget back.
 */

/** Keys kept before expired windows are swept (each entry is a few dozen bytes). */
const SWEEP_AT = 50_000;

export class FixedWindow {
  private readonly windows = new Map<string, { n: number; resetAt: number }>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
  ) {}

  /** Counts one hit for `key`; returns the ms until its window resets if it is now over `max`, else 0. */
  hit(key: string, now = Date.now()): number {
    if (this.windows.size >= SWEEP_AT) this.sweep(now);
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      w = { n: 0, resetAt: now + this.windowMs };
      this.windows.set(key, w);
    }
    w.n++;
    return w.n > this.max ? w.resetAt - now : 0;
  }

  /** Without counting: the ms until `key`'s window resets if it has used up `max`, else 0. */
  exhausted(key: string, now = Date.now()): number {
    const w = this.windows.get(key);
    return w && w.resetAt > now && w.n >= this.max ? w.resetAt - now : 0;
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    // Still full of live windows (a flood of distinct keys): forgetting them only gives budget back.
    if (this.windows.size >= SWEEP_AT) this.windows.clear();
  }
}
