/**
 * Tokenizer models: turn one pre-tokenized word into token ids.
 * - `BpeModel` (`tokenizer.ggml.model = gpt2`): byte-level BPE ordered by merge rank.
 * - `SpmModel` (`tokenizer.ggml.model = llama`): SentencePiece-style merges ordered by the
 *   merged token's score, with `<0xNN>` byte fallback for pieces the vocabulary lacks.
 * Both follow llama.cpp's `llm_tokenizer_bpe_session` / `llm_tokenizer_spm_session`.
 */
import { TokenizerMetadataError, TokenizerUnsupportedError } from './errors.ts';
import { byteLevelEncode } from './byte-level.ts';
import { codePoints, mergeSymbols } from './merge-queue.ts';
import type { Vocab } from './vocab.ts';

export abstract class TokenizerModel {
  constructor(protected readonly vocab: Vocab) {}
  /** Appends the ids of `word` (already pre-tokenized, not yet byte-encoded) to `out`. */
  abstract encodeWord(word: string, out: number[]): void;
}

const encoder = new TextEncoder();
// Bounded so a long-running worker cannot grow without limit; clearing is cheap and rare.
const WORD_CACHE_LIMIT = 200_000;

export class BpeModel extends TokenizerModel {
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, readonly number[]>();

  /** @throws {TokenizerMetadataError} on a malformed merge entry. */
  constructor(
    vocab: Vocab,
    merges: readonly string[],
    private readonly ignoreMerges: boolean,
  ) {
    super(vocab);
    this.ranks = new Map();
    for (let i = 0; i < merges.length; i++) {
      const m = merges[i] as string;
      // llama.cpp splits at the first space after position 0 (a merge side may itself be ' ').
      const pos = m.indexOf(' ', 1);
      if (pos < 0) throw new TokenizerMetadataError(`merge ${i} (${JSON.stringify(m)}) has no separator`);
      const key = m.slice(0, pos) + ' ' + m.slice(pos + 1);
      if (!this.ranks.has(key)) this.ranks.set(key, i);
    }
  }

  encodeWord(word: string, out: number[]): void {
    const cached = this.cache.get(word);
    if (cached) {
      for (const id of cached) out.push(id);
      return;
    }
    const ids = this.encodeUncached(byteLevelEncode(word));
    if (this.cache.size >= WORD_CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, ids);
    for (const id of ids) out.push(id);
  }

  private encodeUncached(encoded: string): number[] {
    const t2i = this.vocab.tokenToId;
    const whole = this.ignoreMerges ? t2i.get(encoded) : undefined;
    if (whole !== undefined) return [whole];
    const merged = mergeSymbols(codePoints(encoded), (l, r) => this.ranks.get(l + ' ' + r) ?? null);
    const ids: number[] = [];
    for (const sym of merged) {
      const id = t2i.get(sym);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      // Not in the vocabulary: one token per byte character, as llama.cpp does.
      for (const ch of sym) {
        const b = t2i.get(ch);
        if (b !== undefined) ids.push(b);
      }
    }
    return ids;
  }
}

export class SpmModel extends TokenizerModel {
  private readonly byteTokens: (number | undefined)[] = [];

  constructor(vocab: Vocab) {
    super(vocab);
    const hex = '0123456789ABCDEF';
    for (let b = 0; b < 256; b++) {
      const name = `<0x${hex[b >> 4]}${hex[b & 15]}>`;
      this.byteTokens[b] = vocab.tokenToId.get(name) ?? vocab.tokenToId.get(String.fromCharCode(b));
    }
  }

  encodeWord(word: string, out: number[]): void {
    const t2i = this.vocab.tokenToId;
    const scores = this.vocab.scores;
    const merged = mergeSymbols(codePoints(word), (l, r) => {
      const id = t2i.get(l + r);
      return id === undefined ? null : -(scores[id] ?? 0);
    });
    for (const sym of merged) {
      const id = t2i.get(sym);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const b of encoder.encode(sym)) {
        const bt = this.byteTokens[b] ?? this.vocab.unkId;
        if (bt !== null && bt !== undefined) out.push(bt);
      }
    }
  }

  /** The byte-fallback token of a byte, if the vocabulary has one. */
  byteToken(b: number): number | undefined {
    return this.byteTokens[b];
  }
}

/**
 * Builds the model named by `tokenizer.ggml.model`.
 * @throws {TokenizerUnsupportedError} for model types Dure does not implement (bert, t5, rwkv...).
 * @throws {TokenizerMetadataError} when a BPE vocabulary has no merges.
 */
export function createModel(
  type: string,
  vocab: Vocab,
  opts: { merges?: readonly string[]; ignoreMerges: boolean },
): TokenizerModel {
  switch (type) {
    case 'gpt2':
      if (!opts.merges) throw new TokenizerMetadataError('tokenizer.ggml.merges is missing');
      return new BpeModel(vocab, opts.merges, opts.ignoreMerges);
    case 'llama':
      return new SpmModel(vocab);
    default:
      throw new TokenizerUnsupportedError(
        `tokenizer model ${JSON.stringify(type)} is not supported (supported: gpt2, llama)`,
      );
  }
}
