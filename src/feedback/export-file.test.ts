import { describe, expect, it } from 'vitest';
import { FeedbackFileError } from '../protocol/errors.ts';
import { parseFeedbackExport, readFeedbackExport, writeFeedbackExport } from './export-file.ts';
import { checkFeedbackRecord, FEEDBACK_LIMITS, makeFeedbackRecord, type FeedbackRecord } from './record.ts';

const NOW = new Date('2026-12-03T05:00:00.000Z');
const record = (
  over: Partial<Parameters<typeof makeFeedbackRecord>[0]> = {},
  id = 'abcdefgh01',
): FeedbackRecord =>
  makeFeedbackRecord(
    {
      label: 'hallucination',
      question: '여권 발급 수수료는?',
      answer: '무료입니다.',
      citations: [{ source: 'passport.md', section: '수수료' }],
      correction: '10년 복수여권은 53,000원입니다.',
      model: { name: 'demo.gguf', sha256: 'a'.repeat(64) },
      kbSha256: 'b'.repeat(64),
      ...over,
    },
    { now: NOW, id },
  );

describe('feedback record', () => {
  it('makes schema-valid records, cut to the bounds, without an empty correction', () => {
    const r = record({ answer: '가'.repeat(FEEDBACK_LIMITS.answer + 50), correction: '  ' });
    expect(checkFeedbackRecord(r)).toBe(true);
    expect(r.answer.length).toBe(FEEDBACK_LIMITS.answer);
    expect('correction' in r).toBe(false);
    expect(r.createdAt).toBe('2026-12-03T05:00:00.000Z');
  });

  it('drops a sha that is not hex and strips bidi overrides and control characters', () => {
    const r = record({ model: { name: 'm\u202egguf.exe', sha256: 'nothex' }, question: 'a\u0000b\u2066c' });
    expect(r.model).toEqual({ name: 'mgguf.exe', sha256: '' });
    expect(r.question).toBe('abc');
  });

  it('refuses extra keys, unknown labels and over-long fields', () => {
    const r = record();
    expect(checkFeedbackRecord({ ...r, extra: 1 })).toBe(false);
    expect(checkFeedbackRecord({ ...r, label: 'spam' })).toBe(false);
    expect(checkFeedbackRecord({ ...r, question: 'q'.repeat(FEEDBACK_LIMITS.question + 1) })).toBe(false);
    expect(
      checkFeedbackRecord({ ...r, citations: [{ source: 'a', section: 'b', url: 'javascript:x' }] }),
    ).toBe(false);
  });
});

describe('feedback export file', () => {
  it('round-trips records through the file', () => {
    const records = [record(), record({ label: 'correct', correction: '' }, 'zyxwvuts99')];
    const parsed = parseFeedbackExport(writeFeedbackExport(records, NOW));
    expect(parsed.header).toMatchObject({ format: 'dure-feedback', version: 1, records: 2 });
    expect(parsed.records).toEqual(records);
    expect(parsed.issues).toEqual([]);
  });

  it('skips malformed and hostile lines with typed issues, keeps the good ones', () => {
    const good = record();
    const text = [
      writeFeedbackExport([good], NOW).trim(),
      '{"broken": ',
      JSON.stringify({ ...good, id: 'polluter01', __proto__x: 1 }),
      `{"__proto__":{"polluted":true},${JSON.stringify(good).slice(1)}`,
      JSON.stringify({ ...good, constructor: { prototype: { polluted: true } } }),
      JSON.stringify({ ...good, label: 'nope' }),
      'x'.repeat(1200),
    ].join('\n');
    const parsed = parseFeedbackExport(text, { maxLineChars: 1000 });
    expect(parsed.records).toHaveLength(1);
    expect(parsed.issues.map((i) => [i.line, i.code])).toEqual([
      [3, 'json'],
      [4, 'invalid-record'],
      [5, 'unsafe-key'],
      [6, 'unsafe-key'],
      [7, 'invalid-record'],
      [8, 'line-too-long'],
    ]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(parsed.issues[1]!.ko).toContain('4번째 줄');
  });

  it('caps records per file and reports the cap once', () => {
    const recs = Array.from({ length: 5 }, (_, i) => record({}, `rec${i}abcdefg`));
    const parsed = parseFeedbackExport(writeFeedbackExport(recs, NOW), { maxRecords: 3 });
    expect(parsed.records).toHaveLength(3);
    expect(parsed.issues.map((i) => i.code)).toEqual(['too-many-records']);
  });

  it('refuses a file that is not an export, an unknown version, and an oversized file', async () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof FeedbackFileError ? e.code : 'other';
      }
      return 'none';
    };
    expect(codeOf(() => parseFeedbackExport('{"instruction":"x","output":"y"}\n'))).toBe('FEEDBACK_FORMAT');
    expect(codeOf(() => parseFeedbackExport(''))).toBe('FEEDBACK_FORMAT');
    expect(codeOf(() => parseFeedbackExport('{"format":"dure-feedback","version":9}\n'))).toBe(
      'FEEDBACK_VERSION',
    );
    expect(codeOf(() => parseFeedbackExport(writeFeedbackExport([record()]), { maxBytes: 100 }))).toBe(
      'FEEDBACK_LIMIT',
    );
    await expect(readFeedbackExport(new Blob(['x'.repeat(200)]), { maxBytes: 100 })).rejects.toMatchObject({
      code: 'FEEDBACK_LIMIT',
    });
    await expect(readFeedbackExport(new Blob([new Uint8Array([0xff, 0xfe, 0x00])]))).rejects.toMatchObject({
      code: 'FEEDBACK_FORMAT',
    });
  });
});
