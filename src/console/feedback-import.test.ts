/** The console's feedback import: several files at once, a bad one reported alone, curated output. */
import { describe, expect, it } from 'vitest';
import { parseDatasetLine } from '../fl/dataset.ts';
import { writeFeedbackExport } from '../feedback/export-file.ts';
import { makeFeedbackRecord } from '../feedback/record.ts';
import { FeedbackImport } from './feedback-import.svelte.ts';

const file = (name: string, text: string) => new File([text], name);

describe('FeedbackImport', () => {
  it('curates the records of every readable file and reports the unreadable one', async () => {
    const a = makeFeedbackRecord({
      label: 'hallucination',
      question: '여권 수수료?',
      answer: '무료',
      correction: '53,000원입니다. 문의 02-120-1234',
    });
    const b = makeFeedbackRecord({ label: 'correct', question: '전입신고 기한?', answer: '14일 이내' });
    const imp = new FeedbackImport();
    await imp.load([
      file('one.jsonl', writeFeedbackExport([a, b])),
      file('two.jsonl', writeFeedbackExport([a])),
      file('not-feedback.jsonl', '{"instruction":"x","output":"y"}\n'),
    ]);
    expect(imp.files.map((f) => [f.name, f.records, f.error?.code ?? null])).toEqual([
      ['one.jsonl', 2, null],
      ['two.jsonl', 1, null],
      ['not-feedback.jsonl', 0, 'FEEDBACK_FORMAT'],
    ]);
    expect(imp.result?.report).toMatchObject({ read: 3, duplicates: 1, kept: 2, withCorrection: 1 });
    expect(imp.trainingCount).toBe(1);
    expect(imp.reviewJsonl.trim().split('\n')).toHaveLength(2);
    expect(imp.reviewJsonl).not.toContain('02-120-1234');
    const line = (await imp.trainingFile().text()).trim();
    expect(parseDatasetLine(line, 1)).toEqual({
      kind: 'instruction',
      instruction: '여권 수수료?',
      input: '',
      output: '53,000원입니다. 문의 [전화번호]',
    });
  });
});
