/**
 * `npx tsx scripts/guard-model-experiment.ts` — does a learned second opinion earn its place?
 * Trains the hashed n-gram model (src/guard/ngram-model.ts) on the dev split only, picks its
 * threshold on dev by leave-one-batch-out (the lowest threshold whose false-block rate on the
 * held-out batch's benign questions stays ≤ 3 %), then prints rules alone vs rules + model on dev, test and
 * the blind part of test, as JSON. `--augment` adds the demo's synthetic 민원 questions as "allow"
 * training lines; `--failures` lists the blind part's misclassified lines.
 */
import { readFileSync } from 'node:fs';
import { measureGuard, parseGuardSet, type LabelledExample } from '../src/guard/eval/metrics.ts';
import { ruleGuard } from '../src/guard/index.ts';
import { withModel } from '../src/guard/model-guard.ts';
import { NgramModel } from '../src/guard/ngram-model.ts';
import type { Guard } from '../src/guard/types.ts';
import { INSTITUTIONS, institutionDataset } from './datasets/institutions.ts';

const set = parseGuardSet(
  readFileSync(new URL('../src/guard/eval/guard-set.jsonl', import.meta.url), 'utf8'),
);
const dev = set.filter((e) => e.split === 'dev');
const labelOf = (e: LabelledExample) => (e.label === 'allow' ? 'allow' : (e.category ?? 'allow'));
// --augment: the synthetic 민원/병원/복지 questions of the federation demo (scripts/datasets) as
// extra "allow" training lines, so the model sees more of what ordinary questions look like.
const augment = process.argv.includes('--augment')
  ? [...new Set(INSTITUTIONS.flatMap((n) => institutionDataset(n).train.map((r) => r.instruction)))].map(
      (text) => ({ text, label: 'allow' }),
    )
  : [];

const combined = (model: NgramModel, threshold: number, gated = false): Guard =>
  withModel(ruleGuard, model, { threshold, gated });

// Threshold on dev only, by leave-one-batch-out on the model alone: each batch of dev was written
// at a different time, so holding one out is the closest dev has to "phrasing nobody has seen".
// (Cross-validating the combined guard would not do: the rules were tuned on every dev line.)
const thresholds = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const batches = [undefined, 'late', 'late2'] as const;
const cv = thresholds.map((t) => ({ t, falseBlock: 0, recall: 0 }));
for (const held of batches) {
  const train = dev.filter((e) => e.batch !== held);
  const test = dev.filter((e) => e.batch === held);
  const model = NgramModel.train([...train.map((e) => ({ text: e.text, label: labelOf(e) })), ...augment]);
  const predictions = test.map((e) => ({ e, p: model.predict(e.text) }));
  for (const row of cv) {
    const flagged = (x: (typeof predictions)[number]) => x.p.label !== 'allow' && x.p.probability >= row.t;
    const benign = predictions.filter((x) => x.e.label === 'allow');
    const harmful = predictions.filter((x) => x.e.label !== 'allow');
    row.falseBlock += benign.filter(flagged).length / benign.length / batches.length;
    row.recall += harmful.filter(flagged).length / harmful.length / batches.length;
  }
}
const chosen = cv.find((r) => r.falseBlock <= 0.03) ?? cv[cv.length - 1]!;
const model = NgramModel.train([...dev.map((e) => ({ text: e.text, label: labelOf(e) })), ...augment]);
const guard = combined(model, chosen.t);
const gatedGuard = combined(model, chosen.t, true);
const summary = (g: Guard, examples: LabelledExample[]) => {
  const { failures: _f, perCategory: _p, ...m } = measureGuard(g, examples);
  return m;
};
const parts = {
  dev,
  test: set.filter((e) => e.split === 'test'),
  test_blind: set.filter((e) => e.split === 'test' && e.batch === 'late3'),
};
const round = (x: unknown): unknown =>
  typeof x === 'number'
    ? Math.round(x * 1000) / 1000
    : x && typeof x === 'object'
      ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, round(v)]))
      : x;
const report: Record<string, unknown> = {
  augmentedAllowLines: augment.length,
  crossValidation: round(cv),
  threshold: chosen.t,
};
for (const [name, examples] of Object.entries(parts))
  report[name] = round({
    rules: summary(ruleGuard, examples),
    rulesPlusModel: summary(guard, examples),
    rulesPlusGatedModel: summary(gatedGuard, examples),
  });
if (process.argv.includes('--failures'))
  report.blindFailures = measureGuard(guard, parts.test_blind).failures;
console.log(JSON.stringify(report, null, 2));
