/**
 * An institution's local training data: JSONL read from a file the user picked,
 * streamed line by line with size bounds, validated with per-line errors in Korean and English,
 * scrubbed of Korean personal identifiers with the widget's own detector (src/safety/pii.ts)
 * before anything trains on it, and split deterministically into train and validation sets.
 * Nothing here touches the network: the records live only in the page (and its worker).
 */
import { detectPii, PII_LABELS, type PiiFinding, type PiiKind } from '../safety/pii.ts';
import { detectKoreanNames } from '../safety/korean-names.ts';
import { detectCustom, type CompiledPattern } from '../safety/custom-patterns.ts';
import { DatasetError } from '../protocol/errors.ts';
export { DatasetError };

/** `{"instruction","input","output"}` (Alpaca style); `input` may be empty. */
export interface InstructionRecord {
  kind: 'instruction';
  instruction: string;
  input: string;
  output: string;
}

export type DatasetRole = 'system' | 'user' | 'assistant';

/** `{"messages":[{role,content}…]}` (chat style); at least one user and one assistant turn. */
export interface ChatRecord {
  kind: 'chat';
  messages: { role: DatasetRole; content: string }[];
}

export type DatasetRecord = InstructionRecord | ChatRecord;

/** A record with the line of the file it came from (1-based), for messages and sample rows. */
export interface NumberedRecord {
  line: number;
  record: DatasetRecord;
}

export type LineIssueCode =
  | 'json'
  | 'not-object'
  | 'unknown-shape'
  | 'field-type'
  | 'empty-field'
  | 'bad-role'
  | 'no-answer'
  | 'line-too-long'
  | 'field-too-long'
  | 'too-many-records';

/** One problem with one line, described for the person who made the file. */
export interface LineIssue {
  line: number;
  code: LineIssueCode;
  ko: string;
  en: string;
}

export interface DatasetLimits {
  /** Largest file accepted, in bytes. */
  maxBytes: number;
  /** Longest line, in UTF-16 code units. */
  maxLineChars: number;
  /** Longest text field, in UTF-16 code units. */
  maxFieldChars: number;
  /** Records kept; further valid lines are reported once and ignored. */
  maxRecords: number;
  /** Line issues kept (the rest are only counted). */
  maxIssues: number;
  /** Chat turns per record. */
  maxMessages: number;
}

export const DEFAULT_DATASET_LIMITS: DatasetLimits = {
  maxBytes: 64 * 1024 * 1024,
  maxLineChars: 256 * 1024,
  maxFieldChars: 64 * 1024,
  maxRecords: 100_000,
  maxIssues: 200,
  maxMessages: 64,
};

const issue = (line: number, code: LineIssueCode, ko: string, en: string): LineIssue => ({
  line,
  code,
  ko: `${line}번째 줄: ${ko}`,
  en: `line ${line}: ${en}`,
});

const ROLES: readonly DatasetRole[] = ['system', 'user', 'assistant'];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses and validates one JSONL line. Returns the record, or the first problem found.
 * Blank lines are the caller's business (they are skipped, not errors).
 */
export function parseDatasetLine(
  text: string,
  line: number,
  limits: Pick<DatasetLimits, 'maxFieldChars' | 'maxMessages'> = DEFAULT_DATASET_LIMITS,
): DatasetRecord | LineIssue {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // Only the position: engines quote the offending text in their message, and that text may
    // hold the very identifiers the scrubber has not yet seen.
    const pos = /position (\d+)/.exec(e instanceof Error ? e.message : '')?.[1];
    return pos === undefined
      ? issue(line, 'json', 'JSON 형식이 아닙니다.', 'not valid JSON.')
      : issue(
          line,
          'json',
          `JSON 형식이 아닙니다 (${Number(pos) + 1}번째 글자 부근).`,
          `not valid JSON (near character ${Number(pos) + 1}).`,
        );
  }
  if (!isPlainObject(value))
    return issue(line, 'not-object', 'JSON 객체({…})가 아닙니다.', 'not a JSON object ({…}).');

  const tooLong = (field: string, s: string): LineIssue | null =>
    s.length > limits.maxFieldChars
      ? issue(
          line,
          'field-too-long',
          `"${field}"가 너무 깁니다 (${s.length}자, 최대 ${limits.maxFieldChars}자).`,
          `"${field}" is too long (${s.length} characters, at most ${limits.maxFieldChars}).`,
        )
      : null;

  if ('messages' in value) {
    const msgs = value['messages'];
    if (!Array.isArray(msgs) || msgs.length === 0)
      return issue(
        line,
        'field-type',
        '"messages"는 비어 있지 않은 배열이어야 합니다.',
        '"messages" must be a non-empty array.',
      );
    if (msgs.length > limits.maxMessages)
      return issue(
        line,
        'field-too-long',
        `대화가 너무 깁니다 (${msgs.length}개, 최대 ${limits.maxMessages}개).`,
        `too many messages (${msgs.length}, at most ${limits.maxMessages}).`,
      );
    const messages: ChatRecord['messages'] = [];
    for (const [i, m] of msgs.entries()) {
      const where = `messages[${i}]`;
      if (!isPlainObject(m) || typeof m['content'] !== 'string')
        return issue(
          line,
          'field-type',
          `${where}에 문자열 "content"가 없습니다.`,
          `${where} has no string "content".`,
        );
      const role = m['role'];
      if (typeof role !== 'string' || !ROLES.includes(role as DatasetRole))
        return issue(
          line,
          'bad-role',
          `${where}의 "role"은 system, user, assistant 중 하나여야 합니다 (받은 값: ${JSON.stringify(role)}).`,
          `${where} "role" must be system, user or assistant (got ${JSON.stringify(role)}).`,
        );
      const long = tooLong(`${where}.content`, m['content']);
      if (long) return long;
      messages.push({ role: role as DatasetRole, content: m['content'] });
    }
    const last = messages.at(-1);
    if (
      !last ||
      last.role !== 'assistant' ||
      !last.content.trim() ||
      !messages.some((m) => m.role === 'user')
    )
      return issue(
        line,
        'no-answer',
        '사용자 질문과, 마지막에 비어 있지 않은 assistant 답변이 있어야 합니다.',
        'needs a user turn and a non-empty assistant answer as the last message.',
      );
    return { kind: 'chat', messages };
  }

  if ('instruction' in value || 'output' in value) {
    const fields = {
      instruction: value['instruction'],
      input: value['input'] ?? '',
      output: value['output'],
    };
    for (const [k, v] of Object.entries(fields)) {
      if (typeof v !== 'string')
        return issue(
          line,
          'field-type',
          `"${k}"는 문자열이어야 합니다${v === undefined ? ' (없음)' : ''}.`,
          `"${k}" must be a string${v === undefined ? ' (missing)' : ''}.`,
        );
      const long = tooLong(k, v);
      if (long) return long;
    }
    const rec: InstructionRecord = {
      kind: 'instruction',
      instruction: fields.instruction as string,
      input: fields.input as string,
      output: fields.output as string,
    };
    if (!rec.instruction.trim())
      return issue(line, 'empty-field', '"instruction"이 비어 있습니다.', '"instruction" is empty.');
    if (!rec.output.trim())
      return issue(line, 'empty-field', '"output"이 비어 있습니다.', '"output" is empty.');
    return rec;
  }

  return issue(
    line,
    'unknown-shape',
    '{"instruction","input","output"} 또는 {"messages":[…]} 형식이어야 합니다.',
    'expected {"instruction","input","output"} or {"messages":[…]}.',
  );
}

/**
 * A record as one instruction → answer pair, the form `toTrainExamples` (src/fl/examples.ts)
 * takes: a chat's last assistant turn is the answer, its last user turn the instruction, and the
 * turns before it (system included) the context in `input`, so nothing the file says is dropped.
 */
export function toInstructionRecord(record: DatasetRecord): {
  instruction: string;
  input: string;
  output: string;
} {
  if (record.kind === 'instruction')
    return { instruction: record.instruction, input: record.input, output: record.output };
  const msgs = record.messages;
  const answer = msgs.length - 1;
  let question = -1;
  for (let i = answer - 1; i >= 0; i--)
    if (msgs[i]!.role === 'user') {
      question = i;
      break;
    }
  const context = msgs
    .filter((_, i) => i !== question && i !== answer)
    .map((m) => `${m.role}: ${m.content}`)
    .join('\n');
  return { instruction: msgs[question]?.content ?? '', input: context, output: msgs[answer]?.content ?? '' };
}

// ── PII scrubbing ───────────────────────────────────────────────────────────────────────────

/**
 * What replaces an identifier in training data: the kind only, in Korean. Unlike the widget's
 * display mask (which keeps the last digits so a citizen recognises their number), nothing of
 * the original survives, since the model could memorise it.
 */
export function piiPlaceholder(kind: PiiKind): string {
  return `[${PII_LABELS[kind].ko}]`;
}

/** A span to replace in training text; `label` names an institution's own identifier. */
export interface ScrubFinding {
  kind: PiiKind;
  start: number;
  end: number;
  label?: string;
}

/**
 * Everything masked before training: the widget's identifiers, person names, then the
 * institution's own patterns; where two overlap the earlier kind in that order wins.
 */
export function detectTrainingPii(text: string, custom: readonly CompiledPattern[] = []): ScrubFinding[] {
  const found: ScrubFinding[] = detectPii(text).map(({ kind, start, end }) => ({ kind, start, end }));
  const free = (s: number, e: number) => !found.some((f) => s < f.end && e > f.start);
  for (const n of detectKoreanNames(text))
    if (free(n.start, n.end)) found.push({ kind: 'name', start: n.start, end: n.end });
  for (const c of detectCustom(text, custom))
    if (free(c.start, c.end)) found.push({ kind: 'custom', start: c.start, end: c.end, label: c.label });
  return found.sort((a, b) => a.start - b.start);
}

const placeholderOf = (f: ScrubFinding) => (f.label ? `[${f.label}]` : piiPlaceholder(f.kind));

/** Replaces every finding in `text` with its placeholder. */
export function scrubText(
  text: string,
  findings: readonly (PiiFinding | ScrubFinding)[] = detectTrainingPii(text),
): string {
  let out = '';
  let at = 0;
  for (const f of findings) {
    if (f.start < at) continue;
    out += text.slice(at, f.start) + placeholderOf(f);
    at = f.end;
  }
  return out + text.slice(at);
}

export interface PiiExample {
  line: number;
  kind: PiiKind;
  /** The scrubbed text around the identifier (never the original value). */
  context: string;
}

export interface PiiReport {
  /** Identifiers replaced, in all records. */
  total: number;
  byKind: Record<PiiKind, number>;
  /** Records that had at least one identifier. */
  records: number;
  /** A few examples, at most `maxExamples`, in file order. */
  examples: PiiExample[];
}

const CONTEXT = 24;

function emptyReport(): PiiReport {
  const byKind = Object.fromEntries(Object.keys(PII_LABELS).map((k) => [k, 0])) as Record<PiiKind, number>;
  return { total: 0, byKind, records: 0, examples: [] };
}

/** Scrubs one string, counting into `report`; examples show the placeholder in scrubbed context. */
function scrubCounting(
  text: string,
  line: number,
  report: PiiReport,
  maxExamples: number,
  custom: readonly CompiledPattern[],
): string {
  const findings = detectTrainingPii(text, custom);
  if (findings.length === 0) return text;
  const scrubbed = scrubText(text, findings);
  let shift = 0;
  for (const f of findings) {
    report.total++;
    report.byKind[f.kind]++;
    const ph = placeholderOf(f);
    const at = f.start + shift;
    shift += ph.length - (f.end - f.start);
    if (report.examples.length < maxExamples) {
      const from = Math.max(0, at - CONTEXT);
      const to = Math.min(scrubbed.length, at + ph.length + CONTEXT);
      const context = `${from > 0 ? '…' : ''}${scrubbed.slice(from, to)}${to < scrubbed.length ? '…' : ''}`;
      report.examples.push({ line, kind: f.kind, context });
    }
  }
  return scrubbed;
}

/**
 * Returns the records with every detected identifier replaced by its placeholder, and a report
 * of what was replaced. The input records are not modified.
 */
export function scrubRecords(
  records: readonly NumberedRecord[],
  maxExamples = 10,
  custom: readonly CompiledPattern[] = [],
): { records: NumberedRecord[]; report: PiiReport } {
  const report = emptyReport();
  const out = records.map(({ line, record }) => {
    const before = report.total;
    const s = (t: string) => scrubCounting(t, line, report, maxExamples, custom);
    const scrubbed: DatasetRecord =
      record.kind === 'instruction'
        ? {
            kind: 'instruction',
            instruction: s(record.instruction),
            input: s(record.input),
            output: s(record.output),
          }
        : { kind: 'chat', messages: record.messages.map((m) => ({ role: m.role, content: s(m.content) })) };
    if (report.total > before) report.records++;
    return { line, record: scrubbed };
  });
  return { records: out, report };
}

// ── deterministic split ─────────────────────────────────────────────────────────────────────

/** FNV-1a over UTF-16 code units: stable across browsers and Node, no crypto needed. */
function fnv1a(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export interface SplitOptions {
  /** Share of records held out for validation, 0 ≤ f < 1 (default 0.1). */
  validationFraction?: number;
  seed?: number;
}

/**
 * Splits by a hash of each record's content, so the same file (in any line order) always gives
 * the same sets. At least one validation record when there are two or more records and the
 * fraction is positive, so validation loss always exists.
 * @throws {DatasetError} for a fraction outside [0, 1).
 */
export function splitDataset<T extends NumberedRecord>(
  records: readonly T[],
  opts: SplitOptions = {},
): { train: T[]; validation: T[] } {
  const fraction = opts.validationFraction ?? 0.1;
  if (!(fraction >= 0 && fraction < 1))
    throw new DatasetError(
      `검증 비율은 0 이상 1 미만이어야 합니다 / the validation fraction must be in [0, 1) (got ${fraction})`,
      'DATASET_SPLIT',
    );
  const seed = opts.seed ?? 0;
  let nVal = Math.round(records.length * fraction);
  if (fraction > 0 && records.length >= 2) nVal = Math.max(nVal, 1);
  const ranked = records
    .map((r, i) => ({ r, i, h: fnv1a(JSON.stringify(r.record), seed) }))
    .sort((a, b) => a.h - b.h || a.i - b.i);
  const held = new Set(ranked.slice(0, nVal).map((x) => x.i));
  const train: T[] = [];
  const validation: T[] = [];
  records.forEach((r, i) => (held.has(i) ? validation : train).push(r));
  return { train, validation };
}

// ── the whole file ──────────────────────────────────────────────────────────────────────────

export interface LoadedDataset {
  /** Valid records, already scrubbed of identifiers. */
  records: NumberedRecord[];
  train: NumberedRecord[];
  validation: NumberedRecord[];
  issues: LineIssue[];
  /** Issues found beyond `maxIssues` (counted, not kept). */
  moreIssues: number;
  /** Non-blank lines read. */
  lines: number;
  bytes: number;
  pii: PiiReport;
}

export interface LoadOptions extends SplitOptions {
  limits?: Partial<DatasetLimits>;
  maxPiiExamples?: number;
  /** The institution's own identifier patterns, already checked (src/safety/custom-patterns.ts). */
  customPatterns?: readonly CompiledPattern[];
}

/** Splits a stream of decoded text into lines without holding more than one line at a time. */
async function* linesOf(stream: ReadableStream<string>, maxLineChars: number): AsyncGenerator<string | null> {
  const reader = stream.getReader();
  let carry = '';
  let oversized = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let text = carry + value;
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        // null marks a line that was cut because it was too long.
        const line = text.slice(0, nl);
        yield oversized || line.length > maxLineChars ? null : line;
        oversized = false;
        text = text.slice(nl + 1);
      }
      if (text.length > maxLineChars) {
        oversized = true;
        text = '';
      }
      carry = oversized ? '' : text;
    }
    if (oversized) yield null;
    else if (carry.length > 0) yield carry.length > maxLineChars ? null : carry;
  } finally {
    reader.releaseLock();
  }
}

/**
 * Reads a JSONL dataset from a picked file: validates every line (problems are collected, not
 * fatal), scrubs personal identifiers and splits train/validation.
 * @throws {DatasetError} `DATASET_TOO_LARGE` above `maxBytes`, `DATASET_ENCODING` if not UTF-8.
 */
export async function loadDataset(file: Blob, opts: LoadOptions = {}): Promise<LoadedDataset> {
  const limits = { ...DEFAULT_DATASET_LIMITS, ...opts.limits };
  if (file.size > limits.maxBytes)
    throw new DatasetError(
      `파일이 너무 큽니다 (${file.size} 바이트, 최대 ${limits.maxBytes}) / ` +
        `the file is too large (${file.size} bytes, at most ${limits.maxBytes})`,
      'DATASET_TOO_LARGE',
    );
  const raw: NumberedRecord[] = [];
  const issues: LineIssue[] = [];
  let moreIssues = 0;
  let lines = 0;
  let lineNo = 0;
  let capped = false;
  const report = (i: LineIssue) => (issues.length < limits.maxIssues ? issues.push(i) : moreIssues++);
  // ignoreBOM false (the default) drops a leading U+FEFF, as editors on Windows write one.
  const text = file.stream().pipeThrough(new TextDecoderStream('utf-8', { fatal: true }));
  try {
    for await (const rawLine of linesOf(text, limits.maxLineChars)) {
      lineNo++;
      if (rawLine === null) {
        lines++;
        report(
          issue(
            lineNo,
            'line-too-long',
            `줄이 너무 깁니다 (최대 ${limits.maxLineChars}자).`,
            `the line is too long (at most ${limits.maxLineChars} characters).`,
          ),
        );
        continue;
      }
      const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
      if (!line.trim()) continue;
      lines++;
      const parsed = parseDatasetLine(line, lineNo, limits);
      if ('line' in parsed) report(parsed);
      else if (raw.length >= limits.maxRecords) {
        if (!capped)
          report(
            issue(
              lineNo,
              'too-many-records',
              `기록이 ${limits.maxRecords}개를 넘어 이 줄부터는 쓰지 않습니다.`,
              `more than ${limits.maxRecords} records; this line and later ones are not used.`,
            ),
          );
        capped = true;
      } else raw.push({ line: lineNo, record: parsed });
    }
  } catch (e) {
    if (e instanceof TypeError)
      throw new DatasetError(
        `UTF-8 텍스트 파일이 아닙니다 (${lineNo + 1}번째 줄 부근) / ` +
          `the file is not UTF-8 text (near line ${lineNo + 1})`,
        'DATASET_ENCODING',
      );
    throw e;
  }
  const { records, report: pii } = scrubRecords(raw, opts.maxPiiExamples ?? 10, opts.customPatterns ?? []);
  return { records, ...splitDataset(records, opts), issues, moreIssues, lines, bytes: file.size, pii };
}
