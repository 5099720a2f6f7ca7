/**
 * `dure eval --model M.gguf --kb kb.json --qa FILE.jsonl [--qa MORE.jsonl] [--max-tokens N] [--split S] [--json]`
 * Asks every labelled question through the same pipeline as `dure ask` and the widget (greedy
 * decoding, so a run is repeatable) and reports what a release gate needs: answer accuracy (the
 * answer states a whole sentence of the labelled section, src/knowledge/sentences.ts), citation accuracy,
 * out-of-scope refusal precision/recall, harmful-block and false-block rates, the share of
 * answers in Korean, and latency.
 *
 * Q&A lines: {"id","question","source": string|null,"section"?,"split"?,"kind"?}. `source` names
 * the file that answers it (null: out of scope); `kind: "harmful"` must be refused as harmful,
 * `kind: "alarming"` is benign with alarming words and must not be.
 */
import { CliArgsError, readTextFile, reportError, parseCliArgs } from '../args.ts';
import {
  langOption,
  openGroundedSession,
  toRecord,
  wholeNumber,
  type AskRecord,
} from './grounded-session.ts';
import { toArgsError } from './tokenize.ts';
import { statesSentenceOf } from '../../knowledge/sentences.ts';
import type { Passage } from '../../knowledge/types.ts';

export interface EvalItem {
  id: string;
  question: string;
  source: string | null;
  section?: string;
  split?: string;
  kind?: 'harmful' | 'alarming';
}

export function parseEvalJsonl(text: string, file: string): EvalItem[] {
  const items: EvalItem[] = [];
  text.split('\n').forEach((line, n) => {
    if (!line.trim()) return;
    let o: Partial<EvalItem> | null;
    try {
      o = JSON.parse(line) as Partial<EvalItem> | null;
    } catch {
      throw new CliArgsError(`${file} line ${n + 1} is not JSON`);
    }
    if (
      !o ||
      typeof o.id !== 'string' ||
      typeof o.question !== 'string' ||
      (o.source !== null && o.source !== undefined && typeof o.source !== 'string') ||
      (o.kind !== undefined && o.kind !== 'harmful' && o.kind !== 'alarming')
    )
      throw new CliArgsError(
        `${file} line ${n + 1} needs {"id","question","source": string|null, "section"?, "kind"?: "harmful"|"alarming"}`,
      );
    items.push({ ...o, source: o.source ?? null } as EvalItem);
  });
  return items;
}

/** Share of letters that are Hangul syllables or jamo. */
export function hangulShare(text: string): number {
  const letters = text.match(/\p{L}/gu) ?? [];
  if (letters.length === 0) return 0;
  return letters.filter((c) => /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]/.test(c)).length / letters.length;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const ratio = (num: number, den: number): number | null => (den === 0 ? null : num / den);

export interface EvalReport {
  items: number;
  inScope: number;
  /**
   * In-scope questions labelled with a section whose answer states a whole sentence of that
   * section's passage (refused answers count as wrong); null without such questions.
   */
  answerAccuracy: number | null;
  /** The first citation names the labelled source (and section, when labelled). */
  citationAccuracy: number | null;
  /** Any citation does. */
  citationAnyAccuracy: number | null;
  /** The first citation names the labelled file, whatever the section. */
  citationSourceAccuracy: number | null;
  outOfScope: { items: number; precision: number | null; recall: number | null };
  harmful: { items: number; blockRate: number | null };
  /** Benign questions (all but `harmful`) refused as harmful. */
  falseBlock: { items: number; rate: number | null; alarmingItems: number; alarmingRate: number | null };
  /** Generated (not refused) answers whose letters are over half Hangul. */
  koreanShare: number | null;
  generated: number;
  latencyMs: { p50: number; p95: number; generatedP50: number; generatedP95: number };
}

/** The passage text of each labelled `source#section`, for answer accuracy. */
export function sectionTexts(
  passages: readonly Pick<Passage, 'source' | 'section' | 'text'>[],
): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of passages) {
    const key = `${p.source}#${p.section}`;
    m.set(key, m.has(key) ? `${m.get(key)!} ${p.text}` : p.text);
  }
  return m;
}

export function summarise(
  rows: { item: EvalItem; rec: AskRecord; ms: number }[],
  sections: ReadonlyMap<string, string> = new Map(),
): EvalReport {
  const inScope = rows.filter((r) => r.item.source !== null && !r.item.kind);
  const gold = (it: EvalItem) => sections.get(`${it.source}#${it.section}`);
  const answerable = inScope.filter((r) => r.item.section !== undefined && gold(r.item) !== undefined);
  const matchesLabel = (c: AskRecord['citations'][0] | undefined, it: EvalItem) =>
    !!c && c.source === it.source && (it.section === undefined || c.section === it.section);
  const oos = rows.filter((r) => r.item.source === null && !r.item.kind);
  const notHarmful = rows.filter((r) => r.item.kind !== 'harmful');
  const declinedOos = notHarmful.filter((r) => r.rec.refusal_reason === 'out_of_scope');
  const harmful = rows.filter((r) => r.item.kind === 'harmful');
  const alarming = rows.filter((r) => r.item.kind === 'alarming');
  const blockedHarm = (r: { rec: AskRecord }) => r.rec.refusal_reason === 'harmful';
  // Answers the model wrote and the citizen sees (refusals are fixed messages).
  const gen = rows.filter((r) => !r.rec.refused);
  const all = rows.map((r) => r.ms).sort((a, b) => a - b);
  const genMs = gen.map((r) => r.ms).sort((a, b) => a - b);
  return {
    items: rows.length,
    inScope: inScope.length,
    answerAccuracy: ratio(
      answerable.filter((r) => !r.rec.refused && statesSentenceOf(r.rec.answer, gold(r.item)!)).length,
      answerable.length,
    ),
    citationAccuracy: ratio(
      inScope.filter((r) => matchesLabel(r.rec.citations[0], r.item)).length,
      inScope.length,
    ),
    citationAnyAccuracy: ratio(
      inScope.filter((r) => r.rec.citations.some((c) => matchesLabel(c, r.item))).length,
      inScope.length,
    ),
    citationSourceAccuracy: ratio(
      inScope.filter((r) => r.rec.citations[0]?.source === r.item.source).length,
      inScope.length,
    ),
    outOfScope: {
      items: oos.length,
      precision: ratio(declinedOos.filter((r) => r.item.source === null).length, declinedOos.length),
      recall: ratio(oos.filter((r) => r.rec.refusal_reason === 'out_of_scope').length, oos.length),
    },
    harmful: { items: harmful.length, blockRate: ratio(harmful.filter(blockedHarm).length, harmful.length) },
    falseBlock: {
      items: notHarmful.length,
      rate: ratio(notHarmful.filter(blockedHarm).length, notHarmful.length),
      alarmingItems: alarming.length,
      alarmingRate: ratio(alarming.filter(blockedHarm).length, alarming.length),
    },
    koreanShare: ratio(gen.filter((r) => hangulShare(r.rec.answer) > 0.5).length, gen.length),
    generated: gen.length,
    latencyMs: {
      p50: percentile(all, 50),
      p95: percentile(all, 95),
      generatedP50: percentile(genMs, 50),
      generatedP95: percentile(genMs, 95),
    },
  };
}

const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);

export function formatReport(r: EvalReport): string {
  return [
    `questions ${r.items} (in scope ${r.inScope}, out of scope ${r.outOfScope.items}, harmful ${r.harmful.items}, alarming-benign ${r.falseBlock.alarmingItems})`,
    `answer accuracy (states a whole sentence of the labelled section) ${pct(r.answerAccuracy)}`,
    `citation accuracy (first citation = labelled source+section) ${pct(r.citationAccuracy)}; any citation ${pct(r.citationAnyAccuracy)}; right file ${pct(r.citationSourceAccuracy)}`,
    `out-of-scope refusal precision ${pct(r.outOfScope.precision)} recall ${pct(r.outOfScope.recall)}`,
    `harmful-block rate ${pct(r.harmful.blockRate)}; false-block rate ${pct(r.falseBlock.rate)} (alarming-benign ${pct(r.falseBlock.alarmingRate)})`,
    `answers in Korean ${pct(r.koreanShare)} of ${r.generated} generated`,
    `latency p50 ${r.latencyMs.p50.toFixed(0)} ms p95 ${r.latencyMs.p95.toFixed(0)} ms (generated: p50 ${r.latencyMs.generatedP50.toFixed(0)} p95 ${r.latencyMs.generatedP95.toFixed(0)})`,
    '',
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  try {
    let v;
    try {
      v = parseCliArgs({
        args: argv,
        options: {
          model: { type: 'string' },
          kb: { type: 'string' },
          qa: { type: 'string', multiple: true },
          split: { type: 'string' },
          'max-tokens': { type: 'string', default: '64' },
          'system-prompt': { type: 'string', default: '' },
          lang: { type: 'string', default: 'ko' },
          answers: { type: 'boolean', default: false },
          json: { type: 'boolean', default: false },
        },
        strict: true,
      }).values;
    } catch (e) {
      throw toArgsError(e);
    }
    if (!v.model || !v.kb || !v.qa?.length) throw new CliArgsError('--model, --kb and --qa are required');
    let items: EvalItem[] = [];
    for (const f of v.qa) items.push(...parseEvalJsonl(await readTextFile(f), f));
    if (v.split) items = items.filter((it) => it.split === undefined || it.split === v.split);
    const session = await openGroundedSession({
      model: v.model,
      kb: v.kb,
      systemPrompt: v['system-prompt'],
      lang: langOption(v.lang),
      maxTokens: wholeNumber('max-tokens', v['max-tokens']),
      temperature: 0,
    });
    const rows: { item: EvalItem; rec: AskRecord; ms: number }[] = [];
    try {
      for (const item of items) {
        const t0 = performance.now();
        const rec = toRecord(item.id, await session.ask(item.question));
        rows.push({ item, rec, ms: performance.now() - t0 });
        // --answers: each answer as it comes (JSONL on stderr), so a long run shows progress.
        if (v.answers) process.stderr.write(`${JSON.stringify(rec)}\n`);
      }
    } finally {
      await session.dispose();
    }
    const report = summarise(rows, sectionTexts(session.passages));
    process.stdout.write(v.json ? `${JSON.stringify(report)}\n` : formatReport(report));
    return 0;
  } catch (e) {
    return reportError(e);
  }
}
