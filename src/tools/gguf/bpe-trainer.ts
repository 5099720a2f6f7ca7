/**
 * A small, deterministic byte-level BPE trainer producing a Hugging Face `tokenizer.json` in the
 * Qwen2 style (NFC, the qwen2 pre-tokenizer regex, GPT-2 byte-to-unicode alphabet, ChatML special
 * tokens). Used to give tiny test models — and later the Korean demo model — a vocabulary of a few
 * thousand tokens learned from Korean text, so their embeddings stay small.
 */
import type { HfTokenizerConfig, HfTokenizerJson } from './hf-tokenizer.ts';

/** Qwen2's pre-tokenizer pattern as written in its tokenizer.json (and llama.cpp's `qwen2` pre). */
export const QWEN2_PRETOKENIZER_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** The same pattern for JavaScript, which has no inline `(?i:)` group before ES2025. */
const QWEN2_JS = new RegExp(
  "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  'gu',
);

/** GPT-2's reversible byte → printable character map used by byte-level BPE. */
export function bytesToUnicode(): string[] {
  const table: string[] = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return table;
}

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export interface TrainBpeOptions {
  /** Total vocabulary size including the 256 byte tokens and the special tokens. */
  vocabSize: number;
  /** Pairs seen fewer times than this are not merged. Default 2. */
  minFrequency?: number;
  specialTokens?: string[];
}

export interface TrainedBpe {
  tokenizer: HfTokenizerJson & Record<string, unknown>;
  config: HfTokenizerConfig & Record<string, unknown>;
}

/**
 * Learns byte-level BPE merges from `texts`. Ties between equally frequent pairs are broken by
 * the pair's strings, so the result depends only on the input.
 */
export function trainByteLevelBpe(texts: readonly string[], opts: TrainBpeOptions): TrainedBpe {
  const specials = opts.specialTokens ?? ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
  const minFreq = opts.minFrequency ?? 2;
  const b2u = bytesToUnicode();
  const enc = new TextEncoder();

  // Word frequencies after NFC and pre-tokenization, each word as byte-level characters.
  const wordFreq = new Map<string, number>();
  for (const text of texts) {
    for (const m of text.normalize('NFC').matchAll(QWEN2_JS)) {
      let w = '';
      for (const b of enc.encode(m[0])) w += b2u[b];
      wordFreq.set(w, (wordFreq.get(w) ?? 0) + 1);
    }
  }

  const symbols: string[] = [...b2u];
  const symbolId = new Map<string, number>(symbols.map((s, i) => [s, i]));
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [w, f] of [...wordFreq].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    words.push([...w].map((ch) => symbolId.get(ch)!));
    freqs.push(f);
  }

  const SHIFT = 1 << 20; // pair key = a * SHIFT + b; vocabularies stay far below 2^20
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addWord = (wi: number, sign: 1 | -1): void => {
    const w = words[wi]!;
    for (let i = 0; i + 1 < w.length; i++) {
      const k = w[i]! * SHIFT + w[i + 1]!;
      const c = (pairCount.get(k) ?? 0) + sign * freqs[wi]!;
      if (c === 0) pairCount.delete(k);
      else pairCount.set(k, c);
      if (sign > 0) {
        let s = pairWords.get(k);
        if (!s) pairWords.set(k, (s = new Set()));
        s.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addWord(wi, 1);

  const merges: [string, string][] = [];
  const target = opts.vocabSize - specials.length;
  const vocab = new Map<string, number>(symbols.map((s, i) => [s, i]));
  while (vocab.size < target) {
    let best = -1;
    let bestCount = 0;
    for (const [k, c] of pairCount) {
      if (c > bestCount || (c === bestCount && c > 0 && pairLess(k, best))) {
        best = k;
        bestCount = c;
      }
    }
    if (best < 0 || bestCount < minFreq) break;
    const a = Math.floor(best / SHIFT);
    const b = best % SHIFT;
    const merged = symbols[a]! + symbols[b]!;
    let id = symbolId.get(merged);
    if (id === undefined) {
      id = symbols.length;
      symbols.push(merged);
      symbolId.set(merged, id);
    }
    if (!vocab.has(merged)) vocab.set(merged, vocab.size);
    merges.push([symbols[a]!, symbols[b]!]);
    for (const wi of [...(pairWords.get(best) ?? [])]) {
      const w = words[wi]!;
      addWord(wi, -1);
      const next: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          next.push(id);
          i++;
        } else next.push(w[i]!);
      }
      words[wi] = next;
      addWord(wi, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
  }

  function pairLess(k: number, other: number): boolean {
    if (other < 0) return true;
    const ka = symbols[Math.floor(k / SHIFT)]!;
    const oa = symbols[Math.floor(other / SHIFT)]!;
    if (ka !== oa) return ka < oa;
    return symbols[k % SHIFT]! < symbols[other % SHIFT]!;
  }

  const base = vocab.size;
  const added = specials.map((content, i) => ({
    id: base + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: QWEN2_PRETOKENIZER_PATTERN },
          behavior: 'Isolated',
          invert: false,
        },
        byteLevel,
      ],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
  const config = {
    add_bos_token: false,
    add_prefix_space: false,
    bos_token: null,
    eos_token: specials[2] ?? specials[0] ?? null,
    pad_token: specials[0] ?? null,
    unk_token: null,
    chat_template: CHATML_TEMPLATE,
    clean_up_tokenization_spaces: false,
    model_max_length: 32768,
    tokenizer_class: 'Qwen2Tokenizer',
    added_tokens_decoder: Object.fromEntries(
      added.map((t) => [String(t.id), { content: t.content, special: true, normalized: false }]),
    ),
  };
  return { tokenizer, config };
}
