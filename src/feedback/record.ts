/**
 * A citizen's label on one answer (issue 17 item 5): what was asked, what the widget answered,
 * which sources it cited, and the citizen's verdict with an optional correction. Platform-neutral
 * (the widget writes it, the console reads it), with one TypeBox schema whose bounds keep a
 * record small enough for a phone's IndexedDB and a console tab.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export const FEEDBACK_RECORD_VERSION = 1;

/** The widget's five verdicts; the first four mark an answer as bad training material. */
export const FEEDBACK_LABELS = ['correct', 'hallucination', 'harmful', 'biased', 'evasive'] as const;
export type FeedbackLabel = (typeof FEEDBACK_LABELS)[number];

/** Korean first, as the widget shows them (the seed's 환각/유해/편향/회피). */
export const FEEDBACK_LABEL_TEXT: Record<FeedbackLabel, { ko: string; en: string }> = {
  correct: { ko: '정확해요', en: 'Correct' },
  hallucination: { ko: '환각', en: 'Hallucinated' },
  harmful: { ko: '유해', en: 'Harmful' },
  biased: { ko: '편향', en: 'Biased' },
  evasive: { ko: '회피', en: 'Evasive' },
};

/** Bounds: a question is at most what the widget's input takes; answers are short by design. */
export const FEEDBACK_LIMITS = {
  question: 4_000,
  answer: 16_000,
  correction: 4_000,
  citations: 16,
  citationField: 300,
  modelName: 200,
} as const;

const Hex64OrEmpty = Type.String({ pattern: '^(?:[0-9a-f]{64})?$' });

export const FeedbackCitationSchema = Type.Object(
  {
    source: Type.String({ maxLength: FEEDBACK_LIMITS.citationField }),
    section: Type.String({ maxLength: FEEDBACK_LIMITS.citationField }),
  },
  { additionalProperties: false },
);

export const FeedbackRecordSchema = Type.Object(
  {
    v: Type.Literal(FEEDBACK_RECORD_VERSION),
    id: Type.String({ pattern: '^[A-Za-z0-9_-]{8,64}$' }),
    /** ISO 8601 UTC, as `Date.prototype.toISOString` writes it. */
    createdAt: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d{1,3})?Z$' }),
    label: Type.Union(FEEDBACK_LABELS.map((l) => Type.Literal(l))),
    question: Type.String({ minLength: 1, maxLength: FEEDBACK_LIMITS.question }),
    answer: Type.String({ maxLength: FEEDBACK_LIMITS.answer }),
    citations: Type.Array(FeedbackCitationSchema, { maxItems: FEEDBACK_LIMITS.citations }),
    correction: Type.Optional(Type.String({ maxLength: FEEDBACK_LIMITS.correction })),
    model: Type.Object(
      { name: Type.String({ maxLength: FEEDBACK_LIMITS.modelName }), sha256: Hex64OrEmpty },
      { additionalProperties: false },
    ),
    kbSha256: Hex64OrEmpty,
  },
  { additionalProperties: false },
);

export type FeedbackRecord = Static<typeof FeedbackRecordSchema>;
export type FeedbackCitation = Static<typeof FeedbackCitationSchema>;

export function isFeedbackLabel(value: unknown): value is FeedbackLabel {
  return typeof value === 'string' && (FEEDBACK_LABELS as readonly string[]).includes(value);
}

/**
 * Control characters (except tab and newline), bidirectional overrides and isolates, and lone
 * surrogates: invisible in a table, they can make one text look like another (a reviewer reads
 * `txt.exe` for `exe.txt`), so they never reach the console's rows or the training file.
 */
// eslint-disable-next-line no-control-regex -- removing control characters is the point
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function sanitizeFeedbackText(text: string): string {
  return text
    .replace(LONE_SURROGATE, '\ufffd')
    .replace(/\r\n?/g, '\n')
    .replace(INVISIBLE, '')
    .normalize('NFC');
}

export interface NewFeedback {
  label: FeedbackLabel;
  question: string;
  answer: string;
  citations?: readonly { source: string; section: string }[];
  correction?: string;
  model?: { name: string; sha256: string };
  kbSha256?: string;
}

const clip = (s: string, n: number) => sanitizeFeedbackText(s).slice(0, n);
const hexOrEmpty = (s: string | undefined) => (s && /^[0-9a-f]{64}$/.test(s) ? s : '');

/** A random id: 16 bytes from the platform's CSPRNG, base64url (no meaning, only uniqueness). */
export function newFeedbackId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Builds a record that satisfies the schema from what the widget has: texts are cleaned and cut
 * to the bounds (an over-long answer is still worth labelling), an empty correction is left out.
 */
export function makeFeedbackRecord(
  input: NewFeedback,
  { now = new Date(), id = newFeedbackId() }: { now?: Date; id?: string } = {},
): FeedbackRecord {
  const correction = clip(input.correction ?? '', FEEDBACK_LIMITS.correction).trim();
  const record: FeedbackRecord = {
    v: FEEDBACK_RECORD_VERSION,
    id,
    createdAt: now.toISOString(),
    label: input.label,
    question: clip(input.question, FEEDBACK_LIMITS.question).trim() || '?',
    answer: clip(input.answer, FEEDBACK_LIMITS.answer),
    citations: (input.citations ?? []).slice(0, FEEDBACK_LIMITS.citations).map((c) => ({
      source: clip(c.source, FEEDBACK_LIMITS.citationField),
      section: clip(c.section, FEEDBACK_LIMITS.citationField),
    })),
    ...(correction ? { correction } : {}),
    model: {
      name: clip(input.model?.name ?? '', FEEDBACK_LIMITS.modelName),
      sha256: hexOrEmpty(input.model?.sha256),
    },
    kbSha256: hexOrEmpty(input.kbSha256),
  };
  return record;
}

/** True when `value` is a well-formed record (schema, bounds, no extra keys). */
export function checkFeedbackRecord(value: unknown): value is FeedbackRecord {
  return Value.Check(FeedbackRecordSchema, value);
}
