/**
 * At most `max` of N update files open at once, whatever N is. Aggregating 110 participants once
 * opened 110 files together and, under a 128-descriptor limit, failed the round with EMFILE; now a
 * file is opened when a slice of it is needed and the least recently used idle one is closed to
 * make room. With N ≤ max nothing is ever reopened; above it each file is reopened per chunk,
 * which costs a header read but keeps descriptors (and sealed-segment buffers) bounded.
 */

export interface Closable {
  close(): Promise<void>;
}

interface Slot<T> {
  file: Promise<T>;
  users: number;
}

export class BoundedFiles<T extends Closable> {
  /** Open files by index, least recently used first (Map keeps insertion order). */
  private readonly slots = new Map<number, Slot<T>>();
  private readonly waiters: Array<() => void> = [];
  /** Files evicted but not yet closed: they still hold a descriptor, so they count against `max`. */
  private closing = 0;
  /** Most files ever open at once (tests read it). */
  peakOpen = 0;
  /** Opens performed (tests and metrics). */
  opens = 0;

  constructor(
    private readonly openFile: (index: number) => Promise<T>,
    readonly max: number,
  ) {
    if (!(max >= 1)) throw new RangeError('BoundedFiles needs room for at least one file');
  }

  /** Runs `fn` on file `index`, opening it (and closing an idle one) if needed. */
  async use<R>(index: number, fn: (file: T) => Promise<R>): Promise<R> {
    const slot = await this.acquire(index);
    try {
      return await fn(await slot.file);
    } finally {
      slot.users--;
      this.waiters.shift()?.();
    }
  }

  private async acquire(index: number): Promise<Slot<T>> {
    for (;;) {
      const hit = this.slots.get(index);
      if (hit) {
        this.slots.delete(index); // most recently used goes last
        this.slots.set(index, hit);
        hit.users++;
        return hit;
      }
      if (this.slots.size + this.closing < this.max) break;
      // Room is made, or awaited, then everything is checked again (another caller may have moved).
      if (!(await this.evictIdle())) await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const file = this.openFile(index);
    const slot: Slot<T> = { file, users: 1 };
    this.slots.set(index, slot);
    this.opens++;
    this.peakOpen = Math.max(this.peakOpen, this.slots.size);
    file.catch(() => {
      if (this.slots.get(index) === slot) this.slots.delete(index);
      this.waiters.shift()?.();
    });
    return slot;
  }

  /** Closes the least recently used file nobody is reading; false if every open file is in use. */
  private async evictIdle(): Promise<boolean> {
    for (const [i, s] of this.slots) {
      if (s.users > 0) continue;
      this.slots.delete(i);
      this.closing++;
      try {
        await (await s.file.catch(() => undefined))?.close();
      } finally {
        this.closing--;
      }
      return true;
    }
    return false;
  }

  /** Closes every open file (after aggregation, or when it failed). */
  async closeAll(): Promise<void> {
    const all = [...this.slots.values()];
    this.slots.clear();
    await Promise.all(all.map(async (s) => (await s.file.catch(() => undefined))?.close()));
  }
}

/** Maps `items` through `fn` at most `limit` at a time, keeping order. */
export async function mapBounded<T, R>(
  items: ReadonlyArray<T>,
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  for (let start = 0; start < items.length; start += limit) {
    const batch = items.slice(start, start + limit);
    const results = await Promise.all(batch.map((item, j) => fn(item, start + j)));
    for (let j = 0; j < results.length; j++) out[start + j] = results[j]!;
  }
  return out;
}
