/**
 * Citizens' feedback exports → curated training data for an institution (issue 17 item 5): the
 * records of every loaded file, scrubbed of personal data, deduplicated, counted per label, and
 * written as two JSONL files:
 *
 * - the review file: one line per record, `{label, question, answer, correction?, citations,
 *   model, kbSha256, example?}`, for people deciding what the model should learn;
 * - the training file: for each record with a correction, an instruction record in the console's
 *   dataset format (`{"instruction": question, "input": "", "output": correction}`, read by
 *   src/fl/dataset.ts and turned into examples by src/training/examples.ts).
 *
 * Nothing here touches the network; the console runs it in the page.
 */
import { FEEDBACK_LABELS, type FeedbackLabel, type FeedbackRecord } from './record.ts';
import { SCRUB_LABELS, scrubFeedbackText, type ScrubKind } from './scrub.ts';

/** The console dataset's instruction record, as one JSONL line holds it. */
export interface FeedbackTrainingRecord {
  instruction: string;
  input: string;
  output: string;
}

export interface CuratedFeedback {
  label: FeedbackLabel;
  question: string;
  answer: string;
  correction?: string;
  citations: { source: string; section: string }[];
  model: string;
  kbSha256: string;
  /** Present when the citizen wrote a correction: the question answered by it. */
  example?: FeedbackTrainingRecord;
}

export interface CurationReport {
  /** Records read from all files (before deduplication). */
  read: number;
  /** Records dropped as the same record (id) or the same content seen before. */
  duplicates: number;
  kept: number;
  byLabel: Record<FeedbackLabel, number>;
  withCorrection: number;
  /** Personal data replaced, per kind. */
  scrubbed: Partial<Record<ScrubKind, number>>;
}

export interface CurationResult {
  records: CuratedFeedback[];
  report: CurationReport;
}

/**
 * Scrubs, deduplicates (by record id, then by scrubbed content: the same export loaded twice, or
 * the same verdict from two exports) and counts. Order: first seen first.
 */
export function curateFeedback(records: readonly FeedbackRecord[]): CurationResult {
  const byLabel = Object.fromEntries(FEEDBACK_LABELS.map((l) => [l, 0])) as Record<FeedbackLabel, number>;
  const report: CurationReport = {
    read: records.length,
    duplicates: 0,
    kept: 0,
    byLabel,
    withCorrection: 0,
    scrubbed: {},
  };
  const ids = new Set<string>();
  const contents = new Set<string>();
  const out: CuratedFeedback[] = [];
  for (const r of records) {
    if (ids.has(r.id)) {
      report.duplicates++;
      continue;
    }
    ids.add(r.id);
    const found: ScrubKind[] = [];
    const scrub = (t: string) => {
      const s = scrubFeedbackText(t);
      found.push(...s.found);
      return s.text;
    };
    const question = scrub(r.question);
    const answer = scrub(r.answer);
    const correction = r.correction ? scrub(r.correction).trim() : '';
    const key = JSON.stringify([r.label, question, answer, correction]);
    if (contents.has(key)) {
      report.duplicates++;
      continue;
    }
    contents.add(key);
    for (const k of found) report.scrubbed[k] = (report.scrubbed[k] ?? 0) + 1;
    report.byLabel[r.label]++;
    const curated: CuratedFeedback = {
      label: r.label,
      question,
      answer,
      ...(correction ? { correction } : {}),
      citations: r.citations.map((c) => ({ source: c.source, section: c.section })),
      model: r.model.name,
      kbSha256: r.kbSha256,
      ...(correction ? { example: { instruction: question, input: '', output: correction } } : {}),
    };
    if (correction) report.withCorrection++;
    out.push(curated);
  }
  report.kept = out.length;
  return { records: out, report };
}

const jsonl = (rows: readonly unknown[]) =>
  rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');

/** The review file: every kept record, one per line. */
export function curatedJsonl(records: readonly CuratedFeedback[]): string {
  return jsonl(records);
}

/** The training records: a question and the citizen's correction of its answer. */
export function trainingRecords(records: readonly CuratedFeedback[]): FeedbackTrainingRecord[] {
  return records.flatMap((r) => (r.example ? [r.example] : []));
}

/** The training file, in the console dataset's instruction format. */
export function trainingJsonl(records: readonly CuratedFeedback[]): string {
  return jsonl(trainingRecords(records));
}

/** Labels for the report's personal-data kinds (re-exported so the console needs one import). */
export { SCRUB_LABELS };
