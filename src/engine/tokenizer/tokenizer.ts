/**
 * A tokenizer built from GGUF metadata that produces the same ids as llama.cpp's `llama_tokenize`
 * for the same file. Pipeline, in llama.cpp's order: special-token split → normalizer →
 * pre-tokenizer → model → decoder, each stage a small class chosen by a factory that rejects
 * unknown types.
 */
import {
  TokenIdError,
  TokenizerInputError,
  TokenizerMetadataError,
  TokenizerUnsupportedError,
} from './errors.ts';
import { cleanSpaces, ByteLevelDecoder, SpmDecoder, type PieceDecoder } from './decoders.ts';
import { optString, optStringArray, type Metadata } from './metadata.ts';
import { createModel, type TokenizerModel } from './models.ts';
import {
  createPreTokenizer,
  preTokenizerSpec,
  WholeTextPreTokenizer,
  type PreTokenizer,
} from './pre-tokenizer.ts';
import { SpecialSplitter } from './special-split.ts';
import {
  Attr,
  flagsFromMetadata,
  modelName,
  vocabFromMetadata,
  type Vocab,
  type VocabFlags,
} from './vocab.ts';

export interface EncodeOptions {
  /** Prepend the BOS token (default false; `shouldAddBos` says what the model expects). */
  addBos?: boolean;
  /** Append the EOS token (default false). */
  addEos?: boolean;
  /**
   * Match CONTROL tokens (e.g. `<|im_start|>`) written in the text (llama.cpp `parse_special`).
   * Default false so that user input cannot forge control tokens; rendered chat templates need true.
   */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Drop CONTROL/UNKNOWN tokens and a leading BOS / trailing EOS (llama.cpp `remove_special`). */
  skipSpecial?: boolean;
}

/** Text normalization before pre-tokenizing one fragment (SentencePiece escapes spaces as `▁`). */
export abstract class Normalizer {
  abstract normalize(text: string, afterSpecial: boolean): string;
}

export class IdentityNormalizer extends Normalizer {
  normalize(text: string): string {
    return text;
  }
}

export class SpmNormalizer extends Normalizer {
  constructor(private readonly addSpacePrefix: boolean) {
    super();
  }
  normalize(text: string, afterSpecial: boolean): string {
    // llama.cpp prefixes a space to a fragment at the start or right after a special token.
    const t = this.addSpacePrefix && afterSpecial ? ' ' + text : text;
    return t.replaceAll(' ', '\u2581');
  }
}

const MAX_INPUT_CHARS = 64 * 1024 * 1024;

export class Tokenizer {
  readonly modelType: string;
  readonly pre: string | undefined;
  private readonly splitter: SpecialSplitter;

  constructor(
    readonly vocab: Vocab,
    readonly flags: VocabFlags,
    private readonly normalizer: Normalizer,
    private readonly preTokenizer: PreTokenizer,
    private readonly model: TokenizerModel,
    private readonly decoder: PieceDecoder,
    info: { modelType: string; pre: string | undefined },
  ) {
    this.modelType = info.modelType;
    this.pre = info.pre;
    this.splitter = new SpecialSplitter(vocab);
  }

  get vocabSize(): number {
    return this.vocab.size;
  }
  get bosId(): number | null {
    return this.vocab.bosId;
  }
  get eosId(): number | null {
    return this.vocab.eosId;
  }
  /** Tokens that end generation (EOS, `<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`, ...). */
  get eogIds(): ReadonlySet<number> {
    return this.vocab.eogIds;
  }
  /** Whether the model expects a BOS token at the start of a prompt (llama.cpp `add_bos`). */
  get shouldAddBos(): boolean {
    return this.flags.addBos;
  }
  get shouldAddEos(): boolean {
    return this.flags.addEos;
  }

  isEog(id: number): boolean {
    return this.vocab.eogIds.has(id);
  }

  /** CONTROL or UNKNOWN tokens: not text a user would see. */
  isControl(id: number): boolean {
    return (this.vocab.attr(id) & (Attr.Control | Attr.Unknown)) !== 0;
  }

  /** The id of a token whose text is exactly `text`, if any. */
  tokenId(text: string): number | undefined {
    return this.vocab.tokenToId.get(text);
  }

  /**
   * Text → token ids, identical to llama.cpp's `llama_tokenize(text, add_special, parse_special)`.
   * @throws {TokenizerMetadataError} when `addBos`/`addEos` is asked of a vocabulary without one.
   * @throws {TokenizerInputError} when the input is longer than 64 Mi characters.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (text.length > MAX_INPUT_CHARS) {
      throw new TokenizerInputError(
        `input of ${text.length} characters exceeds the ${MAX_INPUT_CHARS} limit`,
      );
    }
    const out: number[] = [];
    if (options.addBos) {
      if (this.bosId === null) throw new TokenizerMetadataError('this vocabulary has no BOS token');
      out.push(this.bosId);
    }
    let afterSpecial = true;
    for (const frag of this.splitter.split(text, options.parseSpecial ?? false)) {
      if ('id' in frag) {
        out.push(frag.id);
        afterSpecial = true;
        continue;
      }
      const normalized = this.normalizer.normalize(frag.text, afterSpecial);
      for (const word of this.preTokenizer.split(normalized)) this.model.encodeWord(word, out);
      afterSpecial = false;
    }
    if (options.addEos) {
      if (this.eosId === null) throw new TokenizerMetadataError('this vocabulary has no EOS token');
      out.push(this.eosId);
    }
    return out;
  }

  /**
   * Raw bytes of one token (special tokens as their text). Byte-level tokens can hold part of a
   * UTF-8 character; use `StreamingDecoder` to turn a stream of them into text.
   * @throws {TokenIdError} for an id outside the vocabulary.
   */
  tokenBytes(id: number): Uint8Array {
    this.checkId(id);
    return this.decoder.piece(id);
  }

  /**
   * Token ids → text, as llama.cpp's `llama_detokenize(remove_special = skipSpecial,
   * unparse_special = !skipSpecial)`. Invalid UTF-8 (e.g. a cut-off character) becomes U+FFFD.
   * @throws {TokenIdError} for an id outside the vocabulary.
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    return new TextDecoder().decode(this.decodeBytes(ids, options));
  }

  /** Like `decode` but returns the bytes. @throws {TokenIdError} for an id outside the vocabulary. */
  decodeBytes(ids: readonly number[], options: DecodeOptions = {}): Uint8Array {
    for (const id of ids) this.checkId(id);
    const skip = options.skipSpecial ?? false;
    let start = 0;
    let end = ids.length;
    let removeSpace = this.flags.addSpacePrefix;
    if (skip && this.flags.addBos && end > 0 && ids[0] === this.bosId) {
      removeSpace = false;
      start++;
    }
    if (skip && this.flags.addEos && end > start && ids[end - 1] === this.eosId) end--;
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = start; i < end; i++) {
      const id = ids[i] as number;
      let p = skip && this.isControl(id) ? new Uint8Array(0) : this.decoder.piece(id);
      // SentencePiece: the space added as a prefix at encode time is taken off the first piece.
      if (removeSpace && p.length > 0 && p[0] === 0x20) p = p.subarray(1);
      removeSpace = false;
      parts.push(p);
      total += p.length;
    }
    let bytes: Uint8Array = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    if (this.flags.cleanSpaces) bytes = cleanSpaces(bytes);
    return bytes;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocab.size) {
      throw new TokenIdError(`token id ${id} is outside the vocabulary (0..${this.vocab.size - 1})`);
    }
  }
}

/**
 * Builds the tokenizer described by a GGUF file's `tokenizer.ggml.*` metadata.
 * @throws {TokenizerUnsupportedError} for an unknown `tokenizer.ggml.model` or `tokenizer.ggml.pre`.
 * @throws {TokenizerMetadataError} for missing or inconsistent tokenizer metadata.
 * @throws {GgufMetadataError} when a tokenizer key holds the wrong GGUF type.
 */
export function createTokenizer(md: Metadata): Tokenizer {
  const type = modelName(md);
  if (type !== 'gpt2' && type !== 'llama') {
    throw new TokenizerUnsupportedError(
      `tokenizer model ${JSON.stringify(type)} is not supported (supported: gpt2, llama)`,
    );
  }
  if (type === 'gpt2') {
    const pre = optString(md, 'tokenizer.ggml.pre');
    const spec = preTokenizerSpec(pre);
    const vocab = vocabFromMetadata(md, 'bpe');
    const flags = flagsFromMetadata(md, 'bpe', spec);
    const model = createModel(type, vocab, {
      merges: optStringArray(md, 'tokenizer.ggml.merges'),
      ignoreMerges: flags.ignoreMerges,
    });
    return new Tokenizer(
      vocab,
      flags,
      new IdentityNormalizer(),
      createPreTokenizer(pre),
      model,
      new ByteLevelDecoder(vocab),
      { modelType: type, pre },
    );
  }
  const vocab = vocabFromMetadata(md, 'spm');
  const model = createModel(type, vocab, { ignoreMerges: false });
  const flags = flagsFromMetadata(md, 'spm', { ignoreMerges: false, cleanSpaces: false, addBos: true });
  return new Tokenizer(
    vocab,
    flags,
    new SpmNormalizer(flags.addSpacePrefix),
    new WholeTextPreTokenizer(),
    model,
    new SpmDecoder(vocab),
    { modelType: type, pre: undefined },
  );
}
