/**
 * The grounded demo model's training data (grounded-data.ts): the widget's own prompt, a target
 * the model can copy from that prompt, and nothing from the held-out split.
 */
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/engine/api.ts';
import { Bm25Retriever } from '../../src/knowledge/retriever.ts';
import type { Passage } from '../../src/knowledge/types.ts';
import { GROUNDING_INSTRUCTION } from '../../src/answer/grounded-answer.ts';
import { answerSentence, groundedRecords, institutionOf, type QaItem } from './grounded-data.ts';

const passage = (source: string, section: string, text: string, n: number): Passage => ({
  id: `${source}#${n}`,
  source,
  title: source === 'passport.md' ? '여권 발급 안내' : '전입신고 안내',
  section,
  headings: [section],
  text,
});
const PASSAGES = [
  passage('passport.md', '수수료', '10년 복수여권 수수료는 5만 원입니다. 카드로 낼 수 있습니다.', 0),
  passage(
    'passport.md',
    '필요한 서류',
    '신분증과 여권 사진 한 장이 필요합니다. 사진은 6개월 안에 찍은 것이어야 합니다.',
    1,
  ),
  passage(
    'jeonip-singo.md',
    '신고 기한',
    '이사한 날부터 14일 안에 신고해야 합니다. 늦으면 과태료가 부과될 수 있습니다.',
    2,
  ),
];
const QA: QaItem[] = [
  { id: 't1', split: 'dev', question: '여권 수수료 얼마예요?', source: 'passport.md', section: '수수료' },
  {
    id: 'h1',
    split: 'heldout',
    question: '여권 사진 몇 장 필요해요?',
    source: 'passport.md',
    section: '필요한 서류',
  },
  { id: 't2', split: 'dev', question: '주식 추천해 주세요', source: null },
];
// Characters as tokens: enough for fitting, and independent of any model file.
const countTokens = (m: ChatMessage[]) => m.reduce((n, x) => n + x.content.length + 4, 0);
const build = () =>
  groundedRecords({
    retriever: new Bm25Retriever(PASSAGES, { now: () => new Date('2026-03-01T00:00:00Z') }),
    passages: PASSAGES,
    qa: QA,
    contextLength: 2048,
    maxTokens: 64,
    countTokens,
  });

describe('grounded training data', () => {
  it('uses the training split only, never the held-out questions', async () => {
    const records = await build();
    expect(records.filter((r) => r.origin === 'qa').map((r) => r.id)).toEqual(['t1']);
    expect(records.some((r) => r.question === QA[1]!.question)).toBe(false);
    expect(records.filter((r) => r.origin === 'generated').length).toBeGreaterThan(3);
  });

  it('targets a sentence the prompt carries, with the number of the source it is in', async () => {
    for (const r of await build()) {
      expect(r.system.startsWith(GROUNDING_INSTRUCTION.ko)).toBe(true);
      const m = /^(.*) \[(\d)\]$/.exec(r.answer)!;
      expect(m).not.toBeNull();
      const sources = r.system.split('[자료]\n')[1]!.split(/\n\n(?=\[\d\] )/);
      expect(sources[Number(m[2]) - 1]).toContain(m[1]);
    }
    const t1 = (await build()).find((r) => r.id === 't1')!;
    expect(t1.answer).toMatch(/^10년 복수여권 수수료는 5만 원입니다\. \[\d\]$/);
  });

  it('is deterministic and splits institutions by document', async () => {
    expect(await build()).toEqual(await build());
    expect([
      institutionOf('passport.md'),
      institutionOf('basic-pension.md'),
      institutionOf('parking-fines.md'),
    ]).toEqual(['civil', 'welfare', 'environment']);
    expect(answerSentence('사진 몇 장', PASSAGES[1]!.text)).toBe('신분증과 여권 사진 한 장이 필요합니다.');
  });
});
