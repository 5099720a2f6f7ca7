/**
 * Measuring retrieval on a labelled Q&A set: recall@k of the expected source section for in-scope
 * questions, and precision/recall of the "nothing relevant" decision for out-of-scope ones. The
 * threshold is chosen on the dev split and reported on the held-out split.
 */
import { KnowledgeSourceError } from '../protocol/errors.ts';
import { Bm25Retriever, type Bm25Options } from './retriever.ts';
import type { Passage } from './types.ts';

/** One labelled question; `source` null means out of scope (nothing in the knowledge base answers it). */
export interface QaItem {
  id: string;
  split: 'dev' | 'heldout';
  question: string;
  source: string | null;
  /** The expected section heading within `source`. */
  section?: string;
}

/** Reads Q&A JSONL. @throws {KnowledgeSourceError} for a malformed line. */
export function parseQaJsonl(text: string): QaItem[] {
  const items: QaItem[] = [];
  text.split('\n').forEach((line, n) => {
    if (!line.trim()) return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      throw new KnowledgeSourceError(`Q&A line ${n + 1} is not JSON`);
    }
    const o = r as Partial<QaItem> | null;
    if (
      !o ||
      typeof o.id !== 'string' ||
      typeof o.question !== 'string' ||
      (o.split !== 'dev' && o.split !== 'heldout') ||
      (o.source !== null && typeof o.source !== 'string') ||
      (o.section !== undefined && typeof o.section !== 'string')
    ) {
      throw new KnowledgeSourceError(
        `Q&A line ${n + 1} needs {id, split: "dev"|"heldout", question, source: string|null, section?}`,
      );
    }
    items.push(o as QaItem);
  });
  return items;
}

function matches(p: Passage, item: QaItem): boolean {
  return p.source === item.source && (item.section === undefined || p.section === item.section);
}

export interface RankedQuestion {
  item: QaItem;
  /** 1-based rank of the first passage from the expected section in the top 10; null when absent. */
  rank: number | null;
  /** 1-based rank of the first passage from the expected file. */
  docRank: number | null;
  topScore: number;
}

export function rankQuestions(retriever: Bm25Retriever, items: readonly QaItem[]): RankedQuestion[] {
  return items.map((item) => {
    const hits = retriever.search(item.question, 10);
    const at = (ok: (p: Passage) => boolean) => {
      const i = hits.findIndex((h) => ok(h.passage));
      return i < 0 ? null : i + 1;
    };
    return {
      item,
      rank: item.source === null ? null : at((p) => matches(p, item)),
      docRank: item.source === null ? null : at((p) => p.source === item.source),
      topScore: hits[0]?.score ?? 0,
    };
  });
}

export interface ScopeDecision {
  threshold: number;
  /** Of the questions declined as out of scope, the share that really were. */
  precision: number;
  /** Of the out-of-scope questions, the share declined. */
  recall: number;
  /** In-scope questions wrongly declined. */
  inScopeDeclined: number;
}

export function scopeDecision(ranked: readonly RankedQuestion[], threshold: number): ScopeDecision {
  let tp = 0;
  let fp = 0;
  let oos = 0;
  for (const r of ranked) {
    const declined = r.topScore < threshold;
    if (r.item.source === null) {
      oos++;
      if (declined) tp++;
    } else if (declined) fp++;
  }
  return {
    threshold,
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: oos === 0 ? 1 : tp / oos,
    inScopeDeclined: fp,
  };
}

/**
 * The threshold with the best F1 for declining out-of-scope questions, searched on a 0.01 grid;
 * among equals the lowest, so fewer real questions are turned away.
 */
export function chooseThreshold(ranked: readonly RankedQuestion[]): ScopeDecision {
  let best = scopeDecision(ranked, 0);
  const f1 = (d: ScopeDecision) =>
    d.precision + d.recall === 0 ? 0 : (2 * d.precision * d.recall) / (d.precision + d.recall);
  for (let t = 0.01; t <= 1.5; t += 0.01) {
    const d = scopeDecision(ranked, Math.round(t * 100) / 100);
    if (f1(d) > f1(best)) best = d;
  }
  return best;
}

export interface MethodReport {
  tokenizer: string;
  split: string;
  questions: number;
  /** Of `questions`, those the knowledge base answers (recall is over these). */
  inScopeQuestions: number;
  recallAt1: number;
  recallAt3: number;
  /** Right file (any section) in the top 3. */
  docRecallAt3: number;
  outOfScope: ScopeDecision;
}

function recall(ranked: readonly RankedQuestion[], k: number, key: 'rank' | 'docRank'): number {
  const inScope = ranked.filter((r) => r.item.source !== null);
  if (inScope.length === 0) return 0;
  return inScope.filter((r) => r[key] !== null && r[key] <= k).length / inScope.length;
}

/**
 * Recall@1/@3 per split and the out-of-scope decision at a threshold chosen on dev (or the one
 * given), for one retriever configuration.
 */
export function evaluateRetrieval(
  passages: readonly Passage[],
  items: readonly QaItem[],
  options: Bm25Options & { tokenizer: NonNullable<Bm25Options['tokenizer']> },
): { threshold: number; reports: MethodReport[] } {
  const retriever = new Bm25Retriever(passages, options);
  const ranked = rankQuestions(retriever, items);
  const dev = ranked.filter((r) => r.item.split === 'dev');
  const threshold = options.threshold ?? chooseThreshold(dev).threshold;
  const reports = (['dev', 'heldout'] as const).map((split) => {
    const part = ranked.filter((r) => r.item.split === split);
    return {
      tokenizer: options.tokenizer,
      split,
      questions: part.length,
      inScopeQuestions: part.filter((r) => r.item.source !== null).length,
      recallAt1: recall(part, 1, 'rank'),
      recallAt3: recall(part, 3, 'rank'),
      docRecallAt3: recall(part, 3, 'docRank'),
      outOfScope: scopeDecision(part, threshold),
    };
  });
  return { threshold, reports };
}
