import { describe, expect, it } from 'vitest';
import { fromErrorData, toErrorData } from '../errors.ts';
import { GgufMetadataError } from '../gguf/errors.ts';
import { GgufValueType } from '../gguf/types.ts';
import {
  TokenIdError,
  TokenizerInputError,
  TokenizerMetadataError,
  TokenizerUnsupportedError,
} from './errors.ts';
import { byteBpeMetadata, spmMetadata } from '../../testing/test-vocab.ts';
import { createTokenizer } from './tokenizer.ts';
import { TokenType } from './vocab.ts';

// Byte-level vocabulary: ids 0..255 are bytes; merges add 256 'bc', 257 'ab', 258 'abc', 259 'Ġa';
// then 260 'xyz' (normal, reachable only as a whole word), 261 <|im_start|>, 262 <|im_end|>, 263 <tool>.
const bpe = (pre: string) =>
  createTokenizer(
    byteBpeMetadata({
      pre,
      merges: ['b c', 'a b', 'a bc', 'Ġ a'],
      extra: [
        { text: 'xyz', type: TokenType.Normal },
        { text: '<|im_start|>' },
        { text: '<|im_end|>' },
        { text: '<tool>', type: TokenType.UserDefined },
      ],
      bos: 261,
      eos: 262,
    }),
  );

describe('byte-level BPE tokenizer', () => {
  const tok = bpe('gpt-2');

  it.each([
    { text: 'abc', ids: [258] }, // b+c (rank 0) before a+b (rank 1), then a+bc
    { text: 'ab', ids: [257] },
    { text: ' abc', ids: [32, 258] }, // Ġ+a (rank 3) loses to b+c and a+bc
    { text: 'xyz', ids: [120, 121, 122] }, // not reachable by merges
    { text: '한', ids: [0xed, 0x95, 0x9c] }, // unmerged Hangul: one token per byte
    { text: 'a<tool>b', ids: [97, 263, 98] }, // user-defined tokens are always matched
  ])('encodes $text', ({ text, ids }) => {
    expect(tok.encode(text)).toEqual(ids);
    expect(tok.decode(ids)).toBe(text);
  });

  it('matches control tokens only with parseSpecial', () => {
    expect(tok.encode('<|im_start|>ab', { parseSpecial: true })).toEqual([261, 257]);
    expect(tok.encode('<|im_start|>ab')).toEqual([
      60, 124, 105, 109, 95, 115, 116, 97, 114, 116, 124, 62, 257,
    ]);
  });

  it('adds BOS/EOS only when asked', () => {
    expect(tok.encode('ab', { addBos: true, addEos: true })).toEqual([261, 257, 262]);
    expect(tok.shouldAddBos).toBe(false);
    expect(tok.bosId).toBe(261);
    expect(tok.eosId).toBe(262);
  });

  it('knows end-of-generation and control tokens', () => {
    expect(tok.isEog(262)).toBe(true);
    expect(tok.eogIds.has(261)).toBe(false);
    expect(tok.isControl(261)).toBe(true);
    expect(tok.isControl(263)).toBe(false);
    expect(tok.vocabSize).toBe(264);
  });

  it('decodes special tokens as text unless skipSpecial', () => {
    expect(tok.decode([261, 257, 262])).toBe('<|im_start|>ab<|im_end|>');
    expect(tok.decode([261, 257, 262], { skipSpecial: true })).toBe('ab');
    expect(Array.from(tok.tokenBytes(0xed))).toEqual([0xed]);
  });

  it('cleans spaces before punctuation for gpt-2 but not for qwen2 (llama.cpp clean_spaces)', () => {
    expect(tok.decode([97, 32, 44, 32, 98])).toBe('a, b');
    expect(bpe('qwen2').decode([97, 32, 44, 32, 98])).toBe('a , b');
  });

  it('uses whole-word lookup for llama-bpe (ignore_merges) and adds BOS by default', () => {
    const l3 = bpe('llama-bpe');
    expect(l3.encode('xyz')).toEqual([260]);
    expect(l3.shouldAddBos).toBe(true);
  });

  it('rejects out-of-range ids with a typed error', () => {
    expect(() => tok.decode([264])).toThrow(TokenIdError);
    expect(() => tok.decode([-1])).toThrow(TokenIdError);
    expect(() => tok.tokenBytes(1.5)).toThrow(TokenIdError);
  });
});

// SentencePiece-style vocabulary: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then pieces from 259.
const PIECES = [
  { text: '▁', score: -1 }, // 259
  { text: '안', score: -2 }, // 260
  { text: '녕', score: -3 }, // 261
  { text: '안녕', score: -4 }, // 262
  { text: '▁안녕', score: -5 }, // 263
  { text: '하', score: -6 }, // 264
  { text: '세', score: -7 }, // 265
  { text: '요', score: -8 }, // 266
  { text: '세요', score: -9 }, // 267
  { text: '하세요', score: -10 }, // 268
  { text: 'a', score: -30 }, // 269
  { text: 'b', score: -30 }, // 270
  { text: 'c', score: -30 }, // 271
  { text: 'ab', score: -12 }, // 272
  { text: 'bc', score: -11 }, // 273
];

describe('SentencePiece-style tokenizer', () => {
  const withPrefix = createTokenizer(spmMetadata({ pieces: PIECES }));
  const noPrefix = createTokenizer(spmMetadata({ pieces: PIECES, addSpacePrefix: false }));

  it('merges the highest-scoring pair first', () => {
    // 안녕(-4) → ▁안녕(-5) → 세요(-9) → 하세요(-10)
    expect(withPrefix.encode('안녕하세요')).toEqual([263, 268]);
    expect(noPrefix.encode('안녕하세요')).toEqual([262, 268]);
    expect(noPrefix.encode('abc')).toEqual([269, 273]); // bc(-11) beats ab(-12)
  });

  it('falls back to <0xNN> byte tokens and decodes them', () => {
    const ids = noPrefix.encode('뷁');
    expect(ids).toEqual([3 + 0xeb, 3 + 0xb7, 3 + 0x81]);
    expect(noPrefix.decode(ids)).toBe('뷁');
  });

  it('adds the dummy prefix after special tokens and strips it when decoding', () => {
    expect(withPrefix.encode('<s>안녕', { parseSpecial: true })).toEqual([1, 263]);
    expect(withPrefix.decode([263, 268])).toBe('안녕하세요');
    expect(noPrefix.decode([259, 262])).toBe(' 안녕');
    expect(withPrefix.decode([1, 263], { skipSpecial: true })).toBe(' 안녕');
    expect(withPrefix.shouldAddBos).toBe(true);
    expect(withPrefix.encode('안녕', { addBos: true })).toEqual([1, 263]);
  });
});

describe('tokenizer metadata errors', () => {
  const base = () => byteBpeMetadata({ merges: ['a b'] });

  it('rejects unknown tokenizer models and pre-tokenizers', () => {
    const md = base();
    md.set('tokenizer.ggml.model', { type: GgufValueType.STRING, value: 'bert' });
    expect(() => createTokenizer(md)).toThrow(TokenizerUnsupportedError);
    const md2 = base();
    md2.set('tokenizer.ggml.pre', { type: GgufValueType.STRING, value: 'klingon' });
    expect(() => createTokenizer(md2)).toThrow(TokenizerUnsupportedError);
  });

  it('rejects missing, mistyped or inconsistent metadata', () => {
    const noTokens = base();
    noTokens.delete('tokenizer.ggml.tokens');
    expect(() => createTokenizer(noTokens)).toThrow(TokenizerMetadataError);
    const wrongType = base();
    wrongType.set('tokenizer.ggml.tokens', {
      type: GgufValueType.ARRAY,
      arrayType: GgufValueType.INT32,
      value: Int32Array.of(1, 2),
    });
    // Wrongly typed keys fail in the shared GGUF metadata getters.
    expect(() => createTokenizer(wrongType)).toThrow(GgufMetadataError);
    const noMerges = base();
    noMerges.delete('tokenizer.ggml.merges');
    expect(() => createTokenizer(noMerges)).toThrow(TokenizerMetadataError);
    const badBos = base();
    badBos.set('tokenizer.ggml.bos_token_id', { type: GgufValueType.UINT32, value: 99999 });
    expect(() => createTokenizer(badBos)).toThrow(TokenizerMetadataError);
    const dup = byteBpeMetadata({ merges: [], extra: [{ text: 'a', type: TokenType.Normal }] });
    expect(() => createTokenizer(dup)).toThrow(/duplicate token/);
    const noModel = base();
    noModel.delete('tokenizer.ggml.model');
    expect(() => createTokenizer(noModel)).toThrow(TokenizerMetadataError);
  });

  it('keeps its class and code across a worker boundary', () => {
    const err = new TokenizerUnsupportedError('x');
    const back = fromErrorData(structuredClone(toErrorData(err)));
    expect(back).toBeInstanceOf(TokenizerUnsupportedError);
    expect(back.code).toBe('TOKENIZER_UNSUPPORTED');
  });
});

describe('input bounds', () => {
  it('refuses text over the size limit with a typed error instead of running out of memory', () => {
    const tok = bpe('gpt-2');
    expect(() => tok.encode('a'.repeat(64 * 1024 * 1024 + 1))).toThrow(TokenizerInputError);
  });
});
