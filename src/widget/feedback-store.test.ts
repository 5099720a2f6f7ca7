/** The widget's feedback store on fake-indexeddb: per-conversation reads, replace, cap, export, clear. */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { parseFeedbackExport } from '../feedback/export-file.ts';
import { makeFeedbackRecord } from '../feedback/record.ts';
import {
  allFeedback,
  clearFeedback,
  countFeedback,
  exportFeedbackFile,
  loadFeedback,
  saveFeedback,
} from './feedback-store.ts';

const rec = (question: string, label: 'correct' | 'evasive' = 'evasive') =>
  makeFeedbackRecord({ label, question, answer: '답' });

describe('feedback store', () => {
  it('keeps one label per answer, per conversation, and exports them all', async () => {
    await clearFeedback();
    await saveFeedback({ answerId: 'a1', conversationKey: 'c1', record: rec('q1') });
    const replaced = { ...rec('q1', 'correct'), id: 'replaced01' };
    await saveFeedback({ answerId: 'a1', conversationKey: 'c1', record: replaced });
    await saveFeedback({ answerId: 'a2', conversationKey: 'c2', record: rec('q2') });
    expect(await countFeedback()).toBe(2);
    expect(Object.keys(await loadFeedback('c1'))).toEqual(['a1']);
    expect((await loadFeedback('c1'))['a1']!.label).toBe('correct');

    const file = await exportFeedbackFile(new Date('2026-12-03T00:00:00Z'));
    expect(file.name).toBe('dure-feedback-2026-12-03.jsonl');
    const parsed = parseFeedbackExport(file.text);
    expect(parsed.records.map((r) => r.question)).toEqual(['q1', 'q2']);
    expect(parsed.issues).toEqual([]);

    await clearFeedback();
    expect(await countFeedback()).toBe(0);
    expect(await allFeedback()).toEqual([]);
  });

  it('drops the oldest beyond the cap', async () => {
    await clearFeedback();
    const max = 5;
    for (let i = 0; i < max + 3; i++)
      await saveFeedback({ answerId: `a${i}`, conversationKey: 'c', record: rec(`q${i}`) }, max);
    expect(await countFeedback()).toBe(max);
    expect(Object.keys(await loadFeedback('c')).sort()).toEqual(['a3', 'a4', 'a5', 'a6', 'a7']);
  });
});
