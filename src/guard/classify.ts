/**
 * Scores normalised text against the rule tables (rules.ts) and picks a verdict. Pure and
 * synchronous, so it runs the same in a Web Worker, on the main thread and in Node.
 */
import { normalize, type NormalizedText } from './normalize.ts';
import {
  CATEGORY_RULES,
  EVASION,
  SCORE,
  SHARED_BENIGN,
  type CategoryRules,
  type Pattern,
  type Weighted,
} from './rules.ts';
import type { HarmCategory } from './types.ts';

export interface CategoryScore {
  rules: CategoryRules;
  score: number;
  fired: boolean;
  matched: string[];
}

const compiled = new Map<string, RegExp>();
function compile(source: string): RegExp {
  let re = compiled.get(source);
  if (!re) {
    re = new RegExp(source, 'iu');
    compiled.set(source, re);
  }
  return re;
}

/** The first match of a pattern, or null: strings on the compact form, RegExps on the text. */
function find(p: Pattern, t: NormalizedText): string | null {
  const m = typeof p === 'string' ? compile(p).exec(t.compact) : p.exec(t.text);
  return m ? m[0] : null;
}

function sumWeighted(list: readonly Weighted[], t: NormalizedText, tag: string, out: string[]): number {
  let sum = 0;
  for (const [p, w] of list) {
    const hit = find(p, t);
    if (hit !== null) {
      sum += w;
      out.push(`${tag}:${hit}`);
    }
  }
  return sum;
}

function anyOf(list: readonly Pattern[], t: NormalizedText, tag: string, out: string[]): boolean {
  let any = false;
  for (const p of list) {
    const hit = find(p, t);
    if (hit !== null) {
      any = true;
      out.push(`${tag}:${hit}`);
    }
  }
  return any;
}

export type ScoringMode = 'input' | 'output';

export function scoreCategory(
  r: CategoryRules,
  t: NormalizedText,
  sharedIntents: readonly Weighted[],
  mode: ScoringMode = 'input',
): CategoryScore {
  const matched: string[] = [];
  const direct = anyOf(r.direct, t, 'direct', matched);
  const objects = Math.min(sumWeighted(r.objects, t, 'object', matched), SCORE.objectCap);
  if (!direct && objects === 0) return { rules: r, score: 0, fired: false, matched: [] };
  const required = !r.requires || direct || anyOf(r.requires, t, 'requires', matched);
  const intents = Math.min(
    sumWeighted(r.intents, t, 'intent', matched) +
      (r.sharedIntents || mode === 'output' ? sumWeighted(sharedIntents, t, 'intent', matched) : 0),
    SCORE.intentCap,
  );
  const evasive = objects > 0 && anyOf(EVASION, t, 'evasion', matched);
  const benign =
    !evasive &&
    (anyOf(r.benign, t, 'benign', matched) || (r.sharedBenign && anyOf(SHARED_BENIGN, t, 'benign', matched)));
  const score =
    objects +
    intents +
    (evasive ? SCORE.evasion : 0) +
    (direct ? SCORE.direct : 0) +
    (benign ? SCORE.benign : 0);
  const threshold = mode === 'output' ? (r.outputThreshold ?? r.threshold) : r.threshold;
  return { rules: r, score, fired: required && score >= threshold, matched };
}

/**
 * Every category's score for `text`. In `output` mode, request intents are replaced by what
 * instructions look like in an answer, and the jailbreak and personal-data tables (which are about
 * requests) are left out: output has its own leak and PII checks.
 */
export function scoreText(
  text: string | NormalizedText,
  mode: ScoringMode,
  sharedIntents: readonly Weighted[],
): CategoryScore[] {
  const t = typeof text === 'string' ? normalize(text) : text;
  const tables =
    mode === 'input'
      ? CATEGORY_RULES
      : CATEGORY_RULES.filter((r) => r.category !== 'jailbreak' && r.category !== 'personal_data');
  return tables.map((r) => scoreCategory(r, t, sharedIntents, mode));
}

/**
 * The category to act on: self-harm first (the person's safety outranks what else the text
 * says), then jailbreak (the whole request is an attack), then the highest score; table order
 * breaks ties.
 */
export function pickCategory(scores: readonly CategoryScore[]): CategoryScore | null {
  const fired = scores.filter((s) => s.fired);
  const first = (c: HarmCategory) => fired.find((s) => s.rules.category === c);
  return (
    first('self_harm') ??
    first('jailbreak') ??
    fired.reduce<CategoryScore | null>((best, s) => (best && best.score >= s.score ? best : s), null)
  );
}
