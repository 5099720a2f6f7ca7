/**
 * Pre-tokenizers: split text into words before the model merges inside each word. Byte-level BPE
 * vocabularies name theirs in `tokenizer.ggml.pre`; the regex lists below are llama.cpp's choices
 * for each name (src/llama-vocab.cpp, `llm_tokenizer_bpe`). A list is applied in order, each regex
 * splitting every fragment left by the previous one into matches and the gaps between them.
 *
 * `\s` is written as `\p{White_Space}`: JavaScript's `\s` includes U+FEFF and omits U+0085, while
 * llama.cpp and Hugging Face tokenizers use the Unicode White_Space property.
 */
import { TokenizerUnsupportedError } from './errors.ts';

const S = '\\p{White_Space}';
const NS = '\\P{White_Space}';
const CONTRACTIONS_CI = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

const GPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${S}\\p{L}\\p{N}]+|${S}+(?!${NS})`;
const llama3Like = (digits: string): string =>
  `${CONTRACTIONS_CI}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}${digits}| ?[^${S}\\p{L}\\p{N}]+[\\r\\n]*|${S}*[\\r\\n]+|${S}+(?!${NS})|${S}+`;
const LLAMA3 = llama3Like('{1,3}');
const QWEN2 = llama3Like('');

export abstract class PreTokenizer {
  /** Splits `text` into words; concatenating the result gives `text` back. */
  abstract split(text: string): string[];
}

/** A chain of regexes, each refining the fragments of the previous one (llama.cpp `unicode_regex_split`). */
export class RegexChainPreTokenizer extends PreTokenizer {
  private readonly regexes: RegExp[];

  constructor(patterns: readonly string[]) {
    super();
    this.regexes = patterns.map((p) => new RegExp(p, 'gu'));
  }

  split(text: string): string[] {
    let fragments = [text];
    for (const re of this.regexes) {
      const next: string[] = [];
      for (const frag of fragments) splitOne(re, frag, next);
      fragments = next;
    }
    return fragments;
  }
}

function splitOne(re: RegExp, frag: string, out: string[]): void {
  let last = 0;
  re.lastIndex = 0;
  for (;;) {
    const m = re.exec(frag);
    if (m === null) break;
    const start = m.index;
    const end = start + m[0].length;
    if (end === start) {
      // Zero-length match: step past it (by code point) so the loop ends.
      re.lastIndex = start + ((frag.codePointAt(start) ?? 0) > 0xffff ? 2 : 1);
      continue;
    }
    if (start > last) out.push(frag.slice(last, start));
    out.push(frag.slice(start, end));
    last = end;
  }
  if (last < frag.length) out.push(frag.slice(last));
}

/** No splitting: the whole fragment is one word (SentencePiece-style models). */
export class WholeTextPreTokenizer extends PreTokenizer {
  split(text: string): string[] {
    return text.length > 0 ? [text] : [];
  }
}

/** What a pre-tokenizer name implies besides its regexes (llama.cpp sets these per name). */
export interface PreTokenizerSpec {
  patterns: readonly string[];
  ignoreMerges: boolean;
  cleanSpaces: boolean;
  addBos: boolean;
}

const spec = (
  patterns: readonly string[],
  opts: Partial<Omit<PreTokenizerSpec, 'patterns'>> = {},
): PreTokenizerSpec => ({
  patterns,
  ignoreMerges: opts.ignoreMerges ?? false,
  cleanSpaces: opts.cleanSpaces ?? true,
  addBos: opts.addBos ?? false,
});

const SPECS: ReadonlyMap<string, PreTokenizerSpec> = (() => {
  const m = new Map<string, PreTokenizerSpec>();
  const add = (names: string[], s: PreTokenizerSpec): void => names.forEach((n) => m.set(n, s));
  add(['default'], spec(['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]']));
  add(
    ['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'pixtral', 'midm-2.0'],
    spec([LLAMA3], { ignoreMerges: true, addBos: true }),
  );
  add(['dbrx', 'smaug-bpe'], spec([LLAMA3]));
  add(['qwen2', 'deepseek-r1-qwen', 'megrez'], spec([QWEN2], { cleanSpaces: false }));
  add(['stablelm2'], spec([QWEN2]));
  add(['gpt-2', 'phi-2', 'mpt', 'olmo', 'jais', 'exaone4', 'a.x-4.0'], spec([GPT2]));
  add(['exaone', 'starcoder', 'refact', 'codeshell', 'minerva-7b'], spec(['\\p{N}', GPT2]));
  add(['smollm', 'command-r'], spec(['\\p{N}', GPT2], { cleanSpaces: false }));
  add(['chatglm-bpe', 'glm4'], spec([LLAMA3]));
  return m;
})();

/** The known pre-tokenizer names. */
export function knownPreTokenizers(): string[] {
  return [...SPECS.keys()];
}

/**
 * The spec of a `tokenizer.ggml.pre` name; a missing name means llama.cpp's `default`.
 * @throws {TokenizerUnsupportedError} for a name Dure does not implement.
 */
export function preTokenizerSpec(pre: string | undefined): PreTokenizerSpec {
  const s = SPECS.get(pre ?? 'default');
  if (!s) {
    throw new TokenizerUnsupportedError(
      `pre-tokenizer ${JSON.stringify(pre)} is not supported (known: ${knownPreTokenizers().join(', ')})`,
    );
  }
  return s;
}

/** @throws {TokenizerUnsupportedError} for an unknown name. */
export function createPreTokenizer(pre: string | undefined): PreTokenizer {
  return new RegexChainPreTokenizer(preTokenizerSpec(pre).patterns);
}
