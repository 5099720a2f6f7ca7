import { describe, expect, it } from 'vitest';
import { TokenizerUnsupportedError } from './errors.ts';
import { createPreTokenizer } from './pre-tokenizer.ts';

// Expected splits written from the regexes' definitions (llama.cpp src/llama-vocab.cpp).
const CASES: { pre: string; text: string; words: string[] }[] = [
  // GPT-2: optional space joins the following letters/digits; digits are one run.
  { pre: 'gpt-2', text: 'Hello 세계 12345!', words: ['Hello', ' 세계', ' 12345', '!'] },
  { pre: 'gpt-2', text: "it's  ok", words: ['it', "'s", ' ', ' ok'] },
  // Llama 3: digits in groups of up to three; a non-letter may lead a letter run.
  { pre: 'llama-bpe', text: '1234567 원', words: ['123', '456', '7', ' 원'] },
  { pre: 'llama-bpe', text: "(한글)DON'T\n\n끝", words: ['(한글', ')DON', "'T", '\n\n', '끝'] },
  // Qwen2: every digit alone.
  { pre: 'qwen2', text: '2024년', words: ['2', '0', '2', '4', '년'] },
  { pre: 'qwen2', text: '가  나', words: ['가', ' ', ' 나'] },
  // EXAONE: digits split first, then GPT-2 on the rest.
  { pre: 'exaone', text: 'v12 모델', words: ['v', '1', '2', ' 모델'] },
  // default: punctuation runs, then GPT-2, then digit runs, then 3-digit groups.
  { pre: 'default', text: 'a,b 1234', words: ['a', ',', 'b', ' ', '123', '4'] },
];

describe('pre-tokenizers', () => {
  it.each(CASES)('$pre splits $text', ({ pre, text, words }) => {
    const split = createPreTokenizer(pre).split(text);
    expect(split).toEqual(words);
    expect(split.join('')).toBe(text);
  });

  it('treats U+3000 and U+0085 as whitespace and U+FEFF as not (Unicode White_Space)', () => {
    expect(createPreTokenizer('gpt-2').split('가\u3000\u3000나')).toEqual(['가', '\u3000', '\u3000', '나']);
    expect(createPreTokenizer('qwen2').split('\ufeff가')).toEqual(['\ufeff가']);
  });

  it('rejects an unknown pre-tokenizer with a typed error', () => {
    expect(() => createPreTokenizer('no-such-pre')).toThrow(TokenizerUnsupportedError);
  });
});
