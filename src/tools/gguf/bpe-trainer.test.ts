import { describe, expect, it } from 'vitest';
import { bytesToUnicode, trainByteLevelBpe } from './bpe-trainer.ts';

describe('bytesToUnicode', () => {
  it('is GPT-2 byte-level mapping: printable bytes map to themselves, the rest from U+0100', () => {
    const t = bytesToUnicode();
    expect(new Set(t).size).toBe(256);
    expect(t[0x41]).toBe('A');
    expect(t[0x20]).toBe('Ġ');
    expect(t[0x0a]).toBe('Ċ');
    expect(t[0]).toBe('Ā');
  });
});

describe('trainByteLevelBpe', () => {
  const texts = ['대한민국 대한민국 대한 민국', '인공지능 인공지능 인공 지능 대한민국'];

  it('learns the most frequent pairs first and is deterministic', () => {
    const a = trainByteLevelBpe(texts, { vocabSize: 300 });
    const b = trainByteLevelBpe(texts, { vocabSize: 300 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const merges = a.tokenizer.model.merges as [string, string][];
    expect(merges.length).toBeGreaterThan(5);
    // Every merge joins two tokens already in the vocabulary and yields one.
    const vocab = a.tokenizer.model.vocab;
    for (const [l, r] of merges) {
      expect(vocab[l]).toBeDefined();
      expect(vocab[r]).toBeDefined();
      expect(vocab[l + r]).toBeDefined();
    }
    // The whole word '대한민국' (with its leading space marker) becomes one token.
    const enc = new TextEncoder();
    const u = bytesToUnicode();
    const word = [...enc.encode(' 대한민국')].map((x) => u[x]).join('');
    expect(vocab[word]).toBeDefined();
  });

  it('stops at the size limit or when pairs become rare, and appends ChatML specials', () => {
    const small = trainByteLevelBpe(texts, { vocabSize: 260 });
    expect(Object.keys(small.tokenizer.model.vocab)).toHaveLength(257);
    const ids = small.tokenizer.added_tokens!.map((t) => [t.content, t.id]);
    expect(ids).toEqual([
      ['<|endoftext|>', 257],
      ['<|im_start|>', 258],
      ['<|im_end|>', 259],
    ]);
    const big = trainByteLevelBpe(texts, { vocabSize: 100000 });
    const n = Object.keys(big.tokenizer.model.vocab).length;
    expect(n).toBeLessThan(400); // ran out of pairs seen twice
    expect(big.config.eos_token).toBe('<|im_end|>');
  });
});
