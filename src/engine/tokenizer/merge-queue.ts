/**
 * The merge loop shared by BPE (rank-ordered merges) and SentencePiece-style tokenizers
 * (score-ordered merges): a word is a linked list of symbols; the best adjacent pair is merged
 * until no pair qualifies. Ties go to the leftmost pair, as in llama.cpp's `llm_bigram_*`
 * comparators, and stale queue entries are recognised by their length.
 */

interface Bigram {
  priority: number;
  left: number;
  right: number;
  size: number;
}

function better(a: Bigram, b: Bigram): boolean {
  return a.priority < b.priority || (a.priority === b.priority && a.left < b.left);
}

class BigramHeap {
  private readonly items: Bigram[] = [];

  get size(): number {
    return this.items.length;
  }

  push(x: Bigram): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pi = a[p] as Bigram;
      if (!better(x, pi)) break;
      a[i] = pi;
      i = p;
    }
    a[i] = x;
  }

  pop(): Bigram | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      let c = l;
      if (r < a.length && better(a[r] as Bigram, a[l] as Bigram)) c = r;
      if (!better(a[c] as Bigram, last)) break;
      a[i] = a[c] as Bigram;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

/**
 * Merges adjacent symbols of `symbols` (modified in place: merged-away entries become '').
 * `priorityOf(left, right)` returns the pair's priority (lower merges first) or `null` when the
 * pair must not merge. Returns the surviving symbols in order.
 */
export function mergeSymbols(
  symbols: string[],
  priorityOf: (left: string, right: string) => number | null,
): string[] {
  const n = symbols.length;
  if (n < 2) return symbols.slice();
  const prev = new Int32Array(n);
  const next = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  const heap = new BigramHeap();
  const tryAdd = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const l = symbols[left] as string;
    const r = symbols[right] as string;
    const priority = priorityOf(l, r);
    if (priority === null) return;
    heap.push({ priority, left, right, size: l.length + r.length });
  };
  for (let i = 1; i < n; i++) tryAdd(i - 1, i);

  while (heap.size > 0) {
    const b = heap.pop() as Bigram;
    const l = symbols[b.left] as string;
    const r = symbols[b.right] as string;
    if (l.length === 0 || r.length === 0 || l.length + r.length !== b.size) continue;
    symbols[b.left] = l + r;
    symbols[b.right] = '';
    const after = next[b.right] as number;
    next[b.left] = after;
    if (after >= 0) prev[after] = b.left;
    tryAdd(prev[b.left] as number, b.left);
    tryAdd(b.left, after);
  }
  const out: string[] = [];
  for (let i = 0; i >= 0; i = next[i] as number) out.push(symbols[i] as string);
  return out;
}

/** Splits a string into code points (a lone surrogate stays one symbol). */
export function codePoints(s: string): string[] {
  return Array.from(s);
}
