/**
 * Retrieval over the knowledge base behind a small interface, so a portal can swap in its own
 * (a search server, dense vectors). The built-in one is BM25 over Korean tokens (./tokenize.ts),
 * never returns a passage past its `valid_until` (on the injected clock, in Korea's date), and
 * says "nothing relevant" with an empty list when the best passage scores under a threshold.
 */
import { tokenize, type TokenizerName } from './tokenize.ts';
import type { Passage } from './types.ts';

export interface ScoredPassage {
  passage: Passage;
  /**
   * Share of the query's information the passage matches: its BM25 score divided by the sum of
   * the query terms' IDF (≈1 when every query term occurs once in an average-length passage;
   * unknown query words count against it). Comparable across queries, unlike raw BM25.
   */
  score: number;
}

/** What the widget and `dure ask` need from retrieval. */
export interface Retriever {
  /** Up to `k` passages, best first, that clear the relevance threshold; empty means nothing relevant. */
  retrieve(query: string, k: number): Promise<ScoredPassage[]>;
}

export interface Bm25Options {
  tokenizer?: TokenizerName;
  /** Minimum `score` of the best passage for anything to count as relevant. */
  threshold?: number;
  /** Today's date comes from here (tests move it); defaults to the system clock. */
  now?: () => Date;
  /** Offset of the portal's time zone from UTC in minutes, for "today" (default Korea, +540). */
  utcOffsetMinutes?: number;
  k1?: number;
  b?: number;
}

/**
 * Defaults chosen on the demo Q&A set's dev split (public/demo/kb-qa.jsonl, `npm run kb:eval`):
 * morph+bigram with b = 0.5 had the best dev recall@3 (94.3% against 88.6% for bigram alone and
 * 80.0% for morph; b = 0.75 let short lead paragraphs outrank the section asked about), and 0.21
 * the best F1 for declining out-of-scope questions. A portal with other documents should measure
 * its own (`dure kb eval`).
 */
export const DEFAULT_TOKENIZER: TokenizerName = 'morph+bigram';
export const DEFAULT_THRESHOLD = 0.21;
export const DEFAULT_K1 = 1.2;
export const DEFAULT_B = 0.5;

/** The date (YYYY-MM-DD) it is now at `utcOffsetMinutes` from UTC. */
export function localDate(now: Date, utcOffsetMinutes: number): string {
  return new Date(now.getTime() + utcOffsetMinutes * 60_000).toISOString().slice(0, 10);
}

export class Bm25Retriever implements Retriever {
  readonly tokenizer: TokenizerName;
  readonly threshold: number;
  private readonly passages: readonly Passage[];
  private readonly now: () => Date;
  private readonly offset: number;
  private readonly k1: number;
  private readonly b: number;
  /** term → [passage index, term frequency] pairs. */
  private readonly postings = new Map<string, [number, number][]>();
  private readonly lengths: Float64Array;
  private readonly avgLength: number;

  constructor(passages: readonly Passage[], options: Bm25Options = {}) {
    this.passages = passages;
    this.tokenizer = options.tokenizer ?? DEFAULT_TOKENIZER;
    this.threshold = options.threshold ?? DEFAULT_THRESHOLD;
    this.now = options.now ?? (() => new Date());
    this.offset = options.utcOffsetMinutes ?? 540;
    this.k1 = options.k1 ?? DEFAULT_K1;
    this.b = options.b ?? DEFAULT_B;
    this.lengths = new Float64Array(passages.length);
    passages.forEach((p, i) => {
      // Headings are part of what a passage is about ("필요한 서류" of "여권 발급").
      const tokens = tokenize(`${p.title}\n${p.headings.join('\n')}\n${p.text}`, this.tokenizer);
      this.lengths[i] = tokens.length;
      const tf = new Map<string, number>();
      for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const [t, n] of tf) {
        let list = this.postings.get(t);
        if (!list) this.postings.set(t, (list = []));
        list.push([i, n]);
      }
    });
    this.avgLength = passages.length > 0 ? this.lengths.reduce((a, b) => a + b, 0) / passages.length : 1;
  }

  private idf(df: number): number {
    const n = this.passages.length;
    return Math.log(1 + (n - df + 0.5) / (df + 0.5));
  }

  /**
   * Every passage in force today that shares a term with the query, best first, at most `k`,
   * with no threshold applied (for measuring; `retrieve` applies it).
   */
  search(query: string, k: number): ScoredPassage[] {
    const terms = [...new Set(tokenize(query, this.tokenizer))];
    if (terms.length === 0 || this.passages.length === 0) return [];
    const today = localDate(this.now(), this.offset);
    const scores = new Map<number, number>();
    let ideal = 0;
    for (const t of terms) {
      const list = this.postings.get(t);
      const idf = this.idf(list?.length ?? 0);
      ideal += idf;
      if (!list) continue;
      for (const [i, tf] of list) {
        const norm = this.k1 * (1 - this.b + (this.b * this.lengths[i]!) / this.avgLength);
        scores.set(i, (scores.get(i) ?? 0) + (idf * tf * (this.k1 + 1)) / (tf + norm));
      }
    }
    const hits: ScoredPassage[] = [];
    for (const [i, s] of scores) {
      const passage = this.passages[i]!;
      if (passage.valid_until !== undefined && passage.valid_until < today) continue;
      hits.push({ passage, score: s / ideal });
    }
    // Ties broken by passage order so results are the same on every run.
    hits.sort((a, b) => b.score - a.score || a.passage.id.localeCompare(b.passage.id));
    return hits.slice(0, Math.max(0, k));
  }

  /** Up to `k` passages that clear the threshold; none when even the best does not. */
  retrieveSync(query: string, k: number): ScoredPassage[] {
    return this.search(query, k).filter((h) => h.score >= this.threshold);
  }

  retrieve(query: string, k: number): Promise<ScoredPassage[]> {
    return Promise.resolve(this.retrieveSync(query, k));
  }
}
