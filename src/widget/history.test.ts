import { describe, expect, it } from 'vitest';
import { dropFailedAnswers, type StoredMessage } from './history.ts';

describe('dropFailedAnswers', () => {
  it('leaves out empty failed answers (as older versions stored them) and keeps everything else', () => {
    const rows: StoredMessage[] = [
      { id: '1', role: 'user', content: '질문', at: 1 },
      { id: '2', role: 'assistant', content: '', finish: 'error', at: 2 },
      { id: '3', role: 'user', content: '다음 질문', at: 3 },
      { id: '4', role: 'assistant', content: '일부 답', finish: 'error', at: 4 },
      { id: '5', role: 'user', content: '멈춘 질문', at: 5 },
      { id: '6', role: 'assistant', content: '', finish: 'abort', at: 6 },
    ];
    expect(dropFailedAnswers(rows).map((m) => m.id)).toEqual(['1', '3', '4', '5', '6']);
  });
});
