import { describe, expect, it } from 'vitest';
import { parseDatasetLine } from '../fl/dataset.ts';
import { curatedJsonl, curateFeedback, trainingJsonl } from './curate.ts';
import { makeFeedbackRecord, type NewFeedback } from './record.ts';
import { scrubFeedbackText } from './scrub.ts';

const NOW = new Date('2026-12-03T05:00:00.000Z');
let n = 0;
const rec = (over: Partial<NewFeedback> = {}, id = `id-${(n++).toString().padStart(8, '0')}`) =>
  makeFeedbackRecord(
    { label: 'hallucination', question: '전입신고 기한은?', answer: '한 달입니다.', ...over },
    { now: NOW, id },
  );

describe('scrubFeedbackText', () => {
  it.each([
    ['담당자 김민수 씨에게 010-2345-6789로 연락하세요', '담당자 [이름] 씨에게 [전화번호]로 연락하세요'],
    ['제 이름은 홍길동입니다. 주민번호 900101-1234568', '제 이름은 [이름]입니다. 주민번호 [주민등록번호]'],
    ['행복로 123 행복아파트 101동 1203호로 보내 주세요', '[주소] 행복아파트 [주소]로 보내 주세요'],
    ['메일은 minsu.kim@example.kr 입니다', '메일은 [이메일 주소] 입니다'],
  ])('%s', (input, expected) => {
    expect(scrubFeedbackText(input).text).toBe(expected);
  });

  it.each([
    '고객님, 전입신고는 이사한 날부터 14일 이내로 하면 됩니다.',
    '선생님과 상담원님께 감사드립니다.',
    '수수료는 53,000원이고 처리 기간은 5일입니다.',
    '이내로 3일 안에 신청하세요.',
  ])('leaves ordinary text alone: %s', (text) => {
    expect(scrubFeedbackText(text)).toEqual({ text, found: [] });
  });
});

describe('curateFeedback', () => {
  it('scrubs, deduplicates by id and by content, counts labels and makes training records', () => {
    const a = rec({ correction: '14일 이내입니다. 문의: 홍길동 주무관 02-123-4567' });
    const records = [
      a,
      a, // the same export loaded twice
      { ...rec({ correction: '14일 이내입니다. 문의: 홍길동 주무관 02-123-4567' }) }, // same content, new id
      rec({ label: 'correct', answer: '14일 이내입니다.' }),
      rec({ label: 'evasive', question: '여권 재발급은 어디서?', answer: '모릅니다.' }),
      rec({ label: 'harmful', question: '연락처 010-9876-5432 맞나요?', answer: '네' }),
    ];
    const { records: out, report } = curateFeedback(records);
    expect(report).toMatchObject({ read: 6, duplicates: 2, kept: 4, withCorrection: 1 });
    expect(report.byLabel).toEqual({ correct: 1, hallucination: 1, harmful: 1, biased: 0, evasive: 1 });
    expect(report.scrubbed).toEqual({ name: 1, phone: 2 });
    expect(out[0]!.correction).toBe('14일 이내입니다. 문의: [이름] 주무관 [전화번호]');
    expect(out[3]!.question).toBe('연락처 [전화번호] 맞나요?');

    const review = curatedJsonl(out);
    expect(review).not.toMatch(/010-9876|02-123-4567|홍길동/);
    const first = JSON.parse(review.split('\n')[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({
      label: 'hallucination',
      question: '전입신고 기한은?',
      answer: '한 달입니다.',
    });

    // The training file is the console's own dataset format: every line parses as a record.
    const lines = trainingJsonl(out).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(parseDatasetLine(lines[0]!, 1)).toEqual({
      kind: 'instruction',
      instruction: '전입신고 기한은?',
      input: '',
      output: '14일 이내입니다. 문의: [이름] 주무관 [전화번호]',
    });
  });

  it('writes nothing for nothing', () => {
    const { records, report } = curateFeedback([]);
    expect(report.kept).toBe(0);
    expect(curatedJsonl(records)).toBe('');
    expect(trainingJsonl(records)).toBe('');
  });
});
