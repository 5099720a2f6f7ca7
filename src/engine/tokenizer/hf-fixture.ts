/**
 * Test support: GGUF tokenizer metadata built from a Hugging Face `tokenizer.json`, the way
 * llama.cpp's converter lays it out (token list in id order, token types from the added-token
 * flags, merges as "left right", byte-fallback `<0xNN>` pieces typed BYTE). Used by the tokenizer
 * tests to compare Dure with the Hugging Face tokenizer on the same vocabulary.
 */
import { GgufValueType, type GgufKv } from '../gguf/types.ts';
import { TokenType } from './vocab.ts';

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}
export interface HfTokenizerJson {
  model: { type: string; vocab: Record<string, number>; merges?: (string | [string, string])[] };
  added_tokens: AddedToken[];
}

const str = (value: string): GgufKv => ({ type: GgufValueType.STRING, value });
const u32 = (value: number): GgufKv => ({ type: GgufValueType.UINT32, value });
const bool = (value: boolean): GgufKv => ({ type: GgufValueType.BOOL, value });

export interface HfFixtureOptions {
  /** `gpt2` (byte-level BPE) or `llama` (SentencePiece-style). */
  model: 'gpt2' | 'llama';
  pre?: string;
  bos?: string;
  eos?: string;
  addBos?: boolean;
  addSpacePrefix?: boolean;
}

/** Builds a `tokenizer.ggml.*` metadata map from a parsed tokenizer.json. */
export function metadataFromHf(json: HfTokenizerJson, opts: HfFixtureOptions): Map<string, GgufKv> {
  let n = 0;
  for (const id of Object.values(json.model.vocab)) n = Math.max(n, id + 1);
  for (const t of json.added_tokens) n = Math.max(n, t.id + 1);
  const tokens: string[] = new Array<string>(n);
  const types = new Int32Array(n);
  const scores = new Float32Array(n);
  for (const [text, id] of Object.entries(json.model.vocab)) {
    tokens[id] = text;
    types[id] = /^<0x[0-9A-F]{2}>$/.test(text) && opts.model === 'llama' ? TokenType.Byte : TokenType.Normal;
    // SentencePiece BPE pieces are scored by creation order: earlier pieces merge first.
    scores[id] = -id;
  }
  for (const t of json.added_tokens) {
    tokens[t.id] = t.content;
    types[t.id] = t.special ? TokenType.Control : TokenType.UserDefined;
    scores[t.id] = 0;
  }
  for (let i = 0; i < n; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TokenType.UserDefined;
    }
  }
  const unk = json.model.vocab['<unk>'];
  if (opts.model === 'llama' && unk !== undefined) types[unk] = TokenType.Unknown;

  const md = new Map<string, GgufKv>();
  md.set('tokenizer.ggml.model', str(opts.model));
  if (opts.pre !== undefined) md.set('tokenizer.ggml.pre', str(opts.pre));
  md.set('tokenizer.ggml.tokens', {
    type: GgufValueType.ARRAY,
    arrayType: GgufValueType.STRING,
    value: tokens,
  });
  md.set('tokenizer.ggml.token_type', {
    type: GgufValueType.ARRAY,
    arrayType: GgufValueType.INT32,
    value: types,
  });
  if (opts.model === 'llama') {
    md.set('tokenizer.ggml.scores', {
      type: GgufValueType.ARRAY,
      arrayType: GgufValueType.FLOAT32,
      value: scores,
    });
  } else {
    const merges = (json.model.merges ?? []).map((m) => (Array.isArray(m) ? `${m[0]} ${m[1]}` : m));
    md.set('tokenizer.ggml.merges', {
      type: GgufValueType.ARRAY,
      arrayType: GgufValueType.STRING,
      value: merges,
    });
  }
  const idOf = (t: string | undefined): number | undefined =>
    t === undefined ? undefined : (json.model.vocab[t] ?? json.added_tokens.find((a) => a.content === t)?.id);
  const bos = idOf(opts.bos);
  const eos = idOf(opts.eos);
  if (bos !== undefined) md.set('tokenizer.ggml.bos_token_id', u32(bos));
  if (eos !== undefined) md.set('tokenizer.ggml.eos_token_id', u32(eos));
  if (opts.addBos !== undefined) md.set('tokenizer.ggml.add_bos_token', bool(opts.addBos));
  if (opts.addSpacePrefix !== undefined) md.set('tokenizer.ggml.add_space_prefix', bool(opts.addSpacePrefix));
  return md;
}
