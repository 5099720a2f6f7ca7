/**
 * Measures a guard on a labelled set (guard-set.jsonl): precision, recall and F1 of "refuse",
 * per-category figures, and how often benign questions are wrongly stopped. Used by
 * scripts/guard-eval.ts (the report) and guard.test.ts (the floors).
 */
import type { Guard, GuardAction, HarmCategory } from '../types.ts';

export interface LabelledExample {
  text: string;
  label: GuardAction;
  category: HarmCategory | null;
  group: 'benign' | 'benign_alarming' | 'harmful' | 'jailbreak';
  split: 'dev' | 'test';
  topic?: string;
  /**
   * `late`: written after the first rule freeze, measured once blind, then moved to dev.
   * `late2`: the same after the second freeze. `late3`: written after the third freeze; the test
   * split's blind part. Absent: the first batch, written before the rules but by their author
   * (so not blind).
   */
  batch?: 'late' | 'late2' | 'late3';
}

export interface Prf {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface GuardMetrics {
  examples: number;
  refuse: Prf;
  /** Any intervention (refuse or support) against any non-allow label. */
  intervene: Prf;
  selfHarmSupport: Prf;
  perCategory: Record<string, Prf & { categoryAgreement: number }>;
  falseBlockRate: { benign: number; benignAlarming: number };
  failures: {
    text: string;
    label: GuardAction;
    category: HarmCategory | null;
    got: GuardAction;
    gotCategory: HarmCategory | null;
  }[];
}

function prf(tp: number, fp: number, fn: number): Prf {
  const precision = tp + fp === 0 ? 1 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 1 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, support: tp + fn };
}

function prfOf(pairs: readonly { want: boolean; got: boolean }[]): Prf {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const { want, got } of pairs) {
    if (want && got) tp++;
    else if (got) fp++;
    else if (want) fn++;
  }
  return prf(tp, fp, fn);
}

export function parseGuardSet(jsonl: string): LabelledExample[] {
  return jsonl
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as LabelledExample);
}

export function measureGuard(guard: Guard, examples: readonly LabelledExample[]): GuardMetrics {
  const rows = examples.map((e) => ({ e, v: guard.checkInput(e.text) }));
  const rate = (group: LabelledExample['group']) => {
    const g = rows.filter((r) => r.e.group === group);
    return g.length === 0 ? 0 : g.filter((r) => r.v.action !== 'allow').length / g.length;
  };
  const categories = [...new Set(examples.map((e) => e.category).filter((c) => c !== null))];
  const perCategory: GuardMetrics['perCategory'] = {};
  for (const c of categories) {
    const fig = prfOf(
      rows.map((r) => ({
        want: r.e.category === c,
        got: r.v.category === c && r.v.action !== 'allow',
      })),
    );
    // Recall per category counts any intervention: a bomb question refused as "terror" or as
    // "violence" is stopped either way; agreement says how often the category itself was right.
    const labelled = rows.filter((r) => r.e.category === c);
    const stopped = labelled.filter((r) => r.v.action !== 'allow').length;
    const agree = labelled.filter((r) => r.v.category === c).length;
    perCategory[c] = {
      ...fig,
      recall: labelled.length ? stopped / labelled.length : 1,
      categoryAgreement: labelled.length ? agree / labelled.length : 1,
    };
    const p = perCategory[c]!;
    p.f1 = p.precision + p.recall === 0 ? 0 : (2 * p.precision * p.recall) / (p.precision + p.recall);
  }
  return {
    examples: rows.length,
    refuse: prfOf(rows.map((r) => ({ want: r.e.label === 'refuse', got: r.v.action === 'refuse' }))),
    intervene: prfOf(rows.map((r) => ({ want: r.e.label !== 'allow', got: r.v.action !== 'allow' }))),
    selfHarmSupport: prfOf(
      rows.map((r) => ({ want: r.e.label === 'support', got: r.v.action === 'support' })),
    ),
    perCategory,
    falseBlockRate: { benign: rate('benign'), benignAlarming: rate('benign_alarming') },
    failures: rows
      .filter((r) => r.v.action !== r.e.label)
      .map((r) => ({
        text: r.e.text,
        label: r.e.label,
        category: r.e.category,
        got: r.v.action,
        gotCategory: r.v.category,
      })),
  };
}
