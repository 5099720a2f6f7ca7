/**
 * The file a citizen exports from the widget and an institution loads in the console: JSONL, a
 * header line naming the format and version, then one feedback record per line. Line-based so a
 * damaged or hostile record is skipped on its own; every bound is checked before the work it
 * limits (bytes before decoding, line length before JSON.parse, record count before validation),
 * and keys that could reach an object's prototype are refused outright.
 */
import { FeedbackFileError } from '../protocol/errors.ts';
import {
  checkFeedbackRecord,
  FEEDBACK_RECORD_VERSION,
  sanitizeFeedbackText,
  type FeedbackRecord,
} from './record.ts';

export const FEEDBACK_FORMAT = 'dure-feedback';

export interface FeedbackHeader {
  format: typeof FEEDBACK_FORMAT;
  version: typeof FEEDBACK_RECORD_VERSION;
  exportedAt: string;
  records: number;
}

export const FEEDBACK_FILE_LIMITS = {
  /** A widget keeps at most a few hundred records; 4 MiB is far above an honest export. */
  maxBytes: 4 * 1024 * 1024,
  maxRecords: 2_000,
  /** The largest valid record (all fields at their bounds, JSON-escaped) fits well within this. */
  maxLineChars: 128 * 1024,
  maxIssues: 50,
} as const;

export type FeedbackFileLimits = { -readonly [K in keyof typeof FEEDBACK_FILE_LIMITS]: number };

/** The suggested download name: the date only, nothing about the citizen. */
export function feedbackFileName(now: Date = new Date()): string {
  return `dure-feedback-${now.toISOString().slice(0, 10)}.jsonl`;
}

/** Serialises records as an export file (header first). */
export function writeFeedbackExport(records: readonly FeedbackRecord[], now: Date = new Date()): string {
  const header: FeedbackHeader = {
    format: FEEDBACK_FORMAT,
    version: FEEDBACK_RECORD_VERSION,
    exportedAt: now.toISOString(),
    records: records.length,
  };
  return [header, ...records].map((r) => JSON.stringify(r)).join('\n') + '\n';
}

export type FeedbackIssueCode =
  'json' | 'line-too-long' | 'unsafe-key' | 'invalid-record' | 'too-many-records';

/** One skipped line, said for the operator (the record's text is never quoted: it may hold PII). */
export interface FeedbackIssue {
  line: number;
  code: FeedbackIssueCode;
  ko: string;
  en: string;
}

export interface ParsedFeedbackFile {
  header: FeedbackHeader;
  records: FeedbackRecord[];
  issues: FeedbackIssue[];
  /** Issues beyond `maxIssues`, counted only. */
  moreIssues: number;
}

const ISSUE_TEXT: Record<FeedbackIssueCode, { ko: string; en: string }> = {
  json: { ko: 'JSON 형식이 아닙니다.', en: 'not valid JSON.' },
  'line-too-long': { ko: '줄이 너무 깁니다.', en: 'the line is too long.' },
  'unsafe-key': {
    ko: '허용되지 않는 키(__proto__ 등)가 있어 건너뜁니다.',
    en: 'holds a forbidden key (__proto__ or similar); skipped.',
  },
  'invalid-record': {
    ko: '피드백 기록 형식에 맞지 않아 건너뜁니다.',
    en: 'not a valid feedback record; skipped.',
  },
  'too-many-records': {
    ko: '기록 수 한도를 넘어 이 줄부터는 쓰지 않습니다.',
    en: 'over the record limit; this line and later ones are not used.',
  },
};

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

class UnsafeKey extends Error {}

/** JSON.parse that throws on a key able to reach a prototype, at any depth. */
function parseSafely(text: string): unknown {
  return JSON.parse(text, (key, value: unknown) => {
    if (UNSAFE_KEYS.has(key)) throw new UnsafeKey();
    return value;
  });
}

/** A fresh record holding only the schema's fields, its texts cleaned for display. */
function rebuild(r: FeedbackRecord): FeedbackRecord {
  const clean = sanitizeFeedbackText;
  return {
    v: r.v,
    id: r.id,
    createdAt: r.createdAt,
    label: r.label,
    question: clean(r.question),
    answer: clean(r.answer),
    citations: r.citations.map((c) => ({ source: clean(c.source), section: clean(c.section) })),
    ...(r.correction !== undefined ? { correction: clean(r.correction) } : {}),
    model: { name: clean(r.model.name), sha256: r.model.sha256 },
    kbSha256: r.kbSha256,
  };
}

function parseHeader(line: string | undefined): FeedbackHeader {
  let value: unknown;
  try {
    value = line === undefined ? undefined : parseSafely(line);
  } catch {
    value = undefined;
  }
  const h = value as Partial<FeedbackHeader> | undefined;
  if (typeof h !== 'object' || h === null || h.format !== FEEDBACK_FORMAT)
    throw new FeedbackFileError(
      '피드백 파일의 첫 줄(머리글)이 없습니다 / the file has no Dure feedback header line',
      'FEEDBACK_FORMAT',
    );
  if (h.version !== FEEDBACK_RECORD_VERSION)
    throw new FeedbackFileError(
      `알 수 없는 피드백 파일 버전 / unknown feedback file version: ${String(h.version).slice(0, 20)}`,
      'FEEDBACK_VERSION',
    );
  return {
    format: FEEDBACK_FORMAT,
    version: FEEDBACK_RECORD_VERSION,
    exportedAt: typeof h.exportedAt === 'string' ? sanitizeFeedbackText(h.exportedAt).slice(0, 40) : '',
    records: typeof h.records === 'number' && Number.isSafeInteger(h.records) ? h.records : 0,
  };
}

/**
 * Parses an export file's text. Malformed, oversized or hostile records are skipped and listed;
 * the file as a whole fails only when it is not a feedback export at all or is past the limits.
 * @throws {FeedbackFileError} `FEEDBACK_FORMAT` without a header, `FEEDBACK_VERSION` for an
 *   unknown version, `FEEDBACK_LIMIT` for a text longer than `maxBytes` allows.
 */
export function parseFeedbackExport(
  text: string,
  limits: Partial<FeedbackFileLimits> = {},
): ParsedFeedbackFile {
  const lim = { ...FEEDBACK_FILE_LIMITS, ...limits };
  // A UTF-16 code unit is at least one UTF-8 byte, so this bound is never looser than the bytes'.
  if (text.length > lim.maxBytes)
    throw new FeedbackFileError(
      `피드백 파일이 너무 큽니다 / the feedback file is too large (at most ${lim.maxBytes} bytes)`,
      'FEEDBACK_LIMIT',
    );
  const lines = text.replace(/^\ufeff/, '').split('\n');
  const first = lines.findIndex((l) => l.trim() !== '');
  const header = parseHeader(first >= 0 ? lines[first] : undefined);
  const records: FeedbackRecord[] = [];
  const issues: FeedbackIssue[] = [];
  let moreIssues = 0;
  let capped = false;
  const report = (line: number, code: FeedbackIssueCode) => {
    if (issues.length >= lim.maxIssues) return void moreIssues++;
    const t = ISSUE_TEXT[code];
    issues.push({ line, code, ko: `${line}번째 줄: ${t.ko}`, en: `line ${line}: ${t.en}` });
  };
  for (let i = first + 1; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    if (raw.trim() === '') continue;
    const lineNo = i + 1;
    if (records.length >= lim.maxRecords) {
      if (!capped) report(lineNo, 'too-many-records');
      capped = true;
      continue;
    }
    if (raw.length > lim.maxLineChars) {
      report(lineNo, 'line-too-long');
      continue;
    }
    let value: unknown;
    try {
      value = parseSafely(raw);
    } catch (e) {
      report(lineNo, e instanceof UnsafeKey ? 'unsafe-key' : 'json');
      continue;
    }
    if (!checkFeedbackRecord(value)) {
      report(lineNo, 'invalid-record');
      continue;
    }
    records.push(rebuild(value));
  }
  return { header, records, issues, moreIssues };
}

/**
 * Reads a picked file: the size is checked before a byte is decoded, and the text must be UTF-8.
 * @throws {FeedbackFileError} as `parseFeedbackExport`, and `FEEDBACK_FORMAT` for non-UTF-8 bytes.
 */
export async function readFeedbackExport(
  file: Blob,
  limits: Partial<FeedbackFileLimits> = {},
): Promise<ParsedFeedbackFile> {
  const maxBytes = limits.maxBytes ?? FEEDBACK_FILE_LIMITS.maxBytes;
  if (file.size > maxBytes)
    throw new FeedbackFileError(
      `피드백 파일이 너무 큽니다 / the feedback file is too large (${file.size} bytes, at most ${maxBytes})`,
      'FEEDBACK_LIMIT',
    );
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await file.arrayBuffer());
  } catch (e) {
    throw new FeedbackFileError('UTF-8 텍스트가 아닙니다 / the file is not UTF-8 text', 'FEEDBACK_FORMAT', {
      cause: e,
    });
  }
  return parseFeedbackExport(text, limits);
}
