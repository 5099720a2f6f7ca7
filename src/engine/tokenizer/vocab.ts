/**
 * The vocabulary as llama.cpp sees it after loading a GGUF (`llama_vocab::impl::load` in
 * llama.cpp's src/llama-vocab.cpp): token texts, scores, per-token attributes, special ids, the
 * end-of-generation set and the special-token cache used to split text before the model runs.
 * Text-based fix-ups that llama.cpp applies (EOT/EOG/FIM tokens forced to CONTROL) are repeated
 * here, because they change which tokens `parseSpecial: false` still matches.
 */
import { TokenizerMetadataError } from './errors.ts';
import { optBool, optNumberArray, optString, optStringArray, optUint, type Metadata } from './metadata.ts';

/** GGUF `tokenizer.ggml.token_type` values (llama.h `llama_token_type`). */
export enum TokenType {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
}

/** Attribute bits (llama.h `llama_token_attr`). */
export const Attr = {
  Unknown: 1 << 0,
  Unused: 1 << 1,
  Normal: 1 << 2,
  Control: 1 << 3,
  UserDefined: 1 << 4,
  Byte: 1 << 5,
} as const;

const TYPE_TO_ATTR: Record<number, number> = {
  [TokenType.Unknown]: Attr.Unknown,
  [TokenType.Unused]: Attr.Unused,
  [TokenType.Normal]: Attr.Normal,
  [TokenType.Control]: Attr.Control,
  [TokenType.UserDefined]: Attr.UserDefined,
  [TokenType.Byte]: Attr.Byte,
};

/** Bounds a hostile file cannot push us past (the largest real vocabularies are ~260k). */
export const MAX_VOCAB = 4_000_000;
export const MAX_TOKEN_BYTES = 1 << 16;

// Texts llama.cpp recognises as end-of-turn / end-of-generation / fill-in-the-middle markers.
const EOT_TEXTS = [
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<|end_of_text|>',
  '<EOT>',
  '_<EOT>',
  '[EOT]',
  '<｜end▁of▁sentence｜>',
  '<end_of_utterance>',
];
const EOM_TEXTS = ['<|eom_id|>'];
const FIM_TEXTS = {
  pre: [
    '<|fim_prefix|>',
    '<fim-prefix>',
    '<fim_prefix>',
    '<｜fim▁begin｜>',
    '<PRE>',
    '▁<PRE>',
    '<|code_prefix|>',
    '<|prefix|>',
  ],
  suf: [
    '<|fim_suffix|>',
    '<fim-suffix>',
    '<fim_suffix>',
    '<｜fim▁hole｜>',
    '<SUF>',
    '▁<SUF>',
    '<|code_suffix|>',
    '<|suffix|>',
  ],
  mid: [
    '<|fim_middle|>',
    '<fim-middle>',
    '<fim_middle>',
    '<｜fim▁end｜>',
    '<MID>',
    '▁<MID>',
    '<|code_middle|>',
    '<|middle|>',
  ],
  pad: ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'],
  rep: ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'],
  sep: ['<|file_sep|>'],
};
const EOG_TEXTS = new Set([
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<|return|>',
  '<|call|>',
  '<|flush|>',
  '<|calls|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '</s>',
  '<|eom_id|>',
  '<EOT>',
  '_<EOT>',
  '[EOT]',
  '[EOS]',
  '<|end_of_text|>',
  '<end_of_utterance>',
  '<eos>',
  '<turn|>',
  '<|tool_response>',
  '<｜end▁of▁sentence｜>',
  '[e~[',
]);

export type ModelKind = 'bpe' | 'spm';

export interface VocabFlags {
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
  ignoreMerges: boolean;
  cleanSpaces: boolean;
}

export class Vocab {
  readonly tokens: readonly string[];
  readonly scores: Float32Array;
  readonly attrs: Uint8Array;
  readonly tokenToId: ReadonlyMap<string, number>;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly unkId: number | null;
  readonly eogIds: ReadonlySet<number>;
  /** CONTROL, USER_DEFINED and UNKNOWN tokens, longest text first (llama.cpp `cache_special_tokens`). */
  readonly specialTokens: readonly number[];

  constructor(init: {
    tokens: readonly string[];
    scores: Float32Array;
    attrs: Uint8Array;
    tokenToId: ReadonlyMap<string, number>;
    bosId: number | null;
    eosId: number | null;
    unkId: number | null;
    eogIds: ReadonlySet<number>;
  }) {
    this.tokens = init.tokens;
    this.scores = init.scores;
    this.attrs = init.attrs;
    this.tokenToId = init.tokenToId;
    this.bosId = init.bosId;
    this.eosId = init.eosId;
    this.unkId = init.unkId;
    this.eogIds = init.eogIds;
    const special: number[] = [];
    for (let id = 0; id < this.tokens.length; id++) {
      if ((this.attrs[id] ?? 0) & (Attr.Control | Attr.UserDefined | Attr.Unknown)) special.push(id);
    }
    // llama.cpp sorts by byte length, longest first; ties by id keep the order deterministic.
    const byteLen = (id: number): number => utf8Length(this.tokens[id] ?? '');
    special.sort((a, b) => byteLen(b) - byteLen(a) || a - b);
    this.specialTokens = special;
  }

  get size(): number {
    return this.tokens.length;
  }

  attr(id: number): number {
    return this.attrs[id] ?? 0;
  }

  text(id: number): string {
    return this.tokens[id] ?? '';
  }
}

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Builds the vocabulary from GGUF metadata.
 * @throws {TokenizerMetadataError} on a missing or empty token list, duplicate tokens, short
 *   score/type arrays or special ids outside the vocabulary.
 * @throws {GgufMetadataError} when a tokenizer key holds the wrong GGUF type.
 */
export function vocabFromMetadata(md: Metadata, kind: ModelKind): Vocab {
  const tokens = optStringArray(md, 'tokenizer.ggml.tokens');
  if (!tokens) throw new TokenizerMetadataError('tokenizer.ggml.tokens is missing');
  const n = tokens.length;
  if (n === 0 || n > MAX_VOCAB) throw new TokenizerMetadataError(`vocabulary size ${n} is out of range`);

  const rawScores = optNumberArray(md, 'tokenizer.ggml.scores');
  if (rawScores && rawScores.length < n) {
    throw new TokenizerMetadataError(`tokenizer.ggml.scores has ${rawScores.length} entries for ${n} tokens`);
  }
  const rawTypes = optNumberArray(md, 'tokenizer.ggml.token_type');
  if (rawTypes && rawTypes.length < n) {
    throw new TokenizerMetadataError(
      `tokenizer.ggml.token_type has ${rawTypes.length} entries for ${n} tokens`,
    );
  }

  const scores = new Float32Array(n);
  const attrs = new Uint8Array(n);
  const tokenToId = new Map<string, number>();
  const texts: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    let word = tokens[i] ?? '';
    // llama.cpp renames empty tokens so that they can never match text.
    if (word === '') word = `[EMPTY_${i}]`;
    if (word.length > MAX_TOKEN_BYTES) throw new TokenizerMetadataError(`token ${i} is too long`);
    if (tokenToId.has(word)) {
      throw new TokenizerMetadataError(
        `duplicate token in vocabulary: ${JSON.stringify(word)} has ids ${tokenToId.get(word)} and ${i}`,
      );
    }
    tokenToId.set(word, i);
    texts[i] = word;
    scores[i] = rawScores ? (rawScores[i] ?? 0) : 0;
    attrs[i] = rawTypes ? (TYPE_TO_ATTR[rawTypes[i] ?? 0] ?? 0) : Attr.Normal;
  }

  const specialId = (key: string, fallback: number | null): number | null => {
    let id = fallback !== null && fallback < n ? fallback : null;
    const v = optUint(md, `tokenizer.ggml.${key}`);
    if (v !== undefined) {
      if (v >= n)
        throw new TokenizerMetadataError(`tokenizer.ggml.${key} = ${v} is outside the vocabulary (${n})`);
      id = v;
    }
    return id;
  };
  // Defaults are llama.cpp's per model type (SPM: <unk>=0 <s>=1 </s>=2; GPT-2 BPE: 11).
  const bosId = specialId('bos_token_id', kind === 'spm' ? 1 : 11);
  const eosId = specialId('eos_token_id', kind === 'spm' ? 2 : 11);
  const unkId = specialId('unknown_token_id', kind === 'spm' ? 0 : null);
  let eotId = specialId('eot_token_id', null);
  let eomId = specialId('eom_token_id', null);

  const forceControl = (id: number): void => {
    attrs[id] = (attrs[id] ?? 0) | Attr.Control;
  };
  const findFirst = (candidates: readonly string[]): number | null => {
    let best: number | null = null;
    for (const t of candidates) {
      const id = tokenToId.get(t);
      if (id !== undefined && (best === null || id < best)) best = id;
    }
    return best;
  };
  if (eotId === null) eotId = findFirst(EOT_TEXTS);
  if (eotId !== null) forceControl(eotId);
  if (eomId === null) eomId = findFirst(EOM_TEXTS);
  if (eomId !== null) forceControl(eomId);
  const fim: Record<string, number | null> = {};
  for (const [k, texts] of Object.entries(FIM_TEXTS)) {
    const id = specialId(`fim_${k}_token_id`, null) ?? findFirst(texts);
    fim[k] = id;
    if (id !== null) forceControl(id);
  }

  // Control tokens whose text says "unused" are marked unused (llama.cpp does the same).
  for (let i = 0; i < n; i++) {
    if ((attrs[i] ?? 0) & Attr.Control && (texts[i] ?? '').includes('unused')) {
      attrs[i] = (attrs[i] ?? 0) | Attr.Unused;
    }
  }

  const eog = new Set<number>();
  for (const k of ['pad', 'rep', 'sep']) {
    const id = fim[k];
    if (id !== null && id !== undefined) eog.add(id);
  }
  for (const t of EOG_TEXTS) {
    const id = tokenToId.get(t);
    if (id !== undefined) {
      eog.add(id);
      forceControl(id);
    }
  }
  for (const t of ['<|channel|>', '<|message|>', '<|start|>', '<|constrain|>']) {
    const id = tokenToId.get(t);
    if (id !== undefined) attrs[id] = Attr.UserDefined;
  }
  for (const id of [eosId, eotId, eomId]) if (id !== null) eog.add(id);
  // o200k-harmony style vocabularies: <|end|> is not an end of generation there.
  const has = (t: string): boolean => {
    const id = tokenToId.get(t);
    return id !== undefined && eog.has(id);
  };
  const endId = tokenToId.get('<|end|>');
  if (
    endId !== undefined &&
    eog.has(endId) &&
    ((has('<|return|>') && (has('<|call|>') || has('<|calls|>'))) ||
      ((has('<|call|>') || has('<|calls|>')) && has('<|flush|>')))
  ) {
    eog.delete(endId);
    attrs[endId] = Attr.UserDefined;
  }
  const sId = tokenToId.get('</s>');
  if (sId !== undefined && eog.has(sId) && has('<|tool_response>')) {
    eog.delete(sId);
    attrs[sId] = Attr.Normal;
  }

  return new Vocab({ tokens: texts, scores, attrs, tokenToId, bosId, eosId, unkId, eogIds: eog });
}

/**
 * The behaviour flags llama.cpp derives from the model type, the pre-tokenizer name and the
 * optional `tokenizer.ggml.add_*` overrides.
 */
export function flagsFromMetadata(
  md: Metadata,
  kind: ModelKind,
  preDefaults: { ignoreMerges: boolean; cleanSpaces: boolean; addBos: boolean },
): VocabFlags {
  const flags: VocabFlags =
    kind === 'spm'
      ? { addBos: true, addEos: false, addSpacePrefix: true, ignoreMerges: false, cleanSpaces: false }
      : {
          addBos: preDefaults.addBos,
          addEos: false,
          addSpacePrefix: false,
          ignoreMerges: preDefaults.ignoreMerges,
          cleanSpaces: preDefaults.cleanSpaces,
        };
  flags.addSpacePrefix = optBool(md, 'tokenizer.ggml.add_space_prefix') ?? flags.addSpacePrefix;
  flags.addBos = optBool(md, 'tokenizer.ggml.add_bos_token') ?? flags.addBos;
  flags.addEos = optBool(md, 'tokenizer.ggml.add_eos_token') ?? flags.addEos;
  return flags;
}

/** The tokenizer model name (`tokenizer.ggml.model`). @throws {TokenizerMetadataError} when missing. */
export function modelName(md: Metadata): string {
  const m = optString(md, 'tokenizer.ggml.model');
  if (m === undefined) throw new TokenizerMetadataError('tokenizer.ggml.model is missing');
  return m;
}
