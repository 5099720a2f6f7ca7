/**
 * `npx tsx scripts/guard-eval.ts [--failures] [--split dev|test]` — measures the rule guard on
 * src/guard/eval/guard-set.jsonl and prints JSON: precision, recall and F1 of "refuse" overall
 * and per category, self-harm support, and false-block rates on benign questions and on benign
 * questions with alarming words, for the dev and the test split, and for the test lines written after the rules were frozen
 * (`test_blind`). Tune on dev only; `--failures`
 * lists the misclassified lines of the splits printed.
 */
import { readFileSync } from 'node:fs';
import { measureGuard, parseGuardSet } from '../src/guard/eval/metrics.ts';
import { ruleGuard } from '../src/guard/index.ts';

const args = process.argv.slice(2);
const only = args.includes('--split') ? args[args.indexOf('--split') + 1] : undefined;
const showFailures = args.includes('--failures');
const set = parseGuardSet(
  readFileSync(new URL('../src/guard/eval/guard-set.jsonl', import.meta.url), 'utf8'),
);
const round = (x: unknown): unknown =>
  typeof x === 'number'
    ? Math.round(x * 1000) / 1000
    : Array.isArray(x)
      ? x.map(round)
      : x && typeof x === 'object'
        ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, round(v)]))
        : x;
const report: Record<string, unknown> = {};
// test_blind: the part of the test split written after the rules were frozen (the honest figure).
const parts = {
  dev: set.filter((e) => e.split === 'dev'),
  test: set.filter((e) => e.split === 'test'),
  test_blind: set.filter((e) => e.split === 'test' && e.batch === 'late3'),
};
for (const [split, examples] of Object.entries(parts)) {
  if (only && !split.startsWith(only)) continue;
  const start = performance.now();
  const { failures, ...metrics } = measureGuard(ruleGuard, examples);
  const ms = performance.now() - start;
  report[split] = round({
    ...metrics,
    msPerCheck: ms / metrics.examples,
    ...(showFailures ? { failures } : {}),
  });
}
console.log(JSON.stringify(report, null, 2));
