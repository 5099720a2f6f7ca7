import { describe, expect, it } from 'vitest';
import { splitSentences, statesSentenceOf } from './sentences.ts';

const TEXT = '이사한 날부터 14일 안에 신고해야 합니다. 늦으면   과태료가 부과될 수 있습니다.\n1. 끝';

describe('answer sentences', () => {
  it('splits a passage into sentences, collapsing whitespace and dropping fragments', () => {
    expect(splitSentences(TEXT)).toEqual([
      '이사한 날부터 14일 안에 신고해야 합니다.',
      '늦으면 과태료가 부과될 수 있습니다.',
    ]);
  });

  it('an answer counts when it states a whole sentence of the passage', () => {
    expect(statesSentenceOf('늦으면 과태료가 부과될 수 있습니다. [1]', TEXT)).toBe(true);
    expect(statesSentenceOf('이사한 날부터\n14일 안에 신고해야 합니다.', TEXT)).toBe(true);
    expect(statesSentenceOf('14일 안에 신고해야 합니다. [1]', TEXT)).toBe(false);
    expect(statesSentenceOf('1. 끝', TEXT)).toBe(false);
  });
});
