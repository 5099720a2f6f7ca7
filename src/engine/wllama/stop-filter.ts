/**
 * Holds back the tail of a stream that could still turn into a stop string, so a stop sequence
 * split across tokens never reaches the citizen (llama.cpp checks stops on whole tokens only).
 */
export class StopFilter {
  private pending = '';
  private readonly hold: number;
  stopped = false;

  constructor(private readonly stops: readonly string[]) {
    this.hold = Math.max(0, ...stops.map((s) => s.length - 1));
  }

  /** Feeds new text; returns what may be shown now. Sets `stopped` once a stop string appears. */
  push(text: string): string {
    if (this.stopped) return '';
    this.pending += text;
    let cut = -1;
    for (const s of this.stops) {
      if (!s) continue;
      const i = this.pending.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.stopped = true;
      const out = this.pending.slice(0, cut);
      this.pending = '';
      return out;
    }
    // Never split a UTF-16 surrogate pair when holding back.
    let keep = Math.min(this.hold, this.pending.length);
    let at = this.pending.length - keep;
    if (at > 0 && /[\uDC00-\uDFFF]/.test(this.pending[at] ?? '')) at--;
    keep = this.pending.length - at;
    const out = this.pending.slice(0, at);
    this.pending = this.pending.slice(at);
    return out;
  }

  /** The held-back tail once the stream ended without a stop. */
  flush(): string {
    const out = this.stopped ? '' : this.pending;
    this.pending = '';
    return out;
  }
}
