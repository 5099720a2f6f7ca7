/**
 * Byte-exact comparison with the two references for the same vocabulary: llama.cpp (through
 * node-llama-cpp, loading a GGUF that holds the tokenizer metadata) and the Hugging Face tokenizer
 * (@lenml/tokenizers, from the tokenizer.json the metadata was converted from). Every corpus line
 * and edge case is compared; the counts are printed.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metadataOnlyGguf, tinyLlamaArchMetadata } from './gguf-fixture.ts';
import { metadataFromHf, type HfFixtureOptions, type HfTokenizerJson } from './hf-fixture.ts';
import { referenceLines } from './reference-lines.ts';
import { createTokenizer, type Tokenizer } from './tokenizer.ts';

interface HfTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
}

interface Vocabulary {
  name: 'qwen3' | 'llama3' | 'gemma3';
  options: HfFixtureOptions;
  /** The Hugging Face tokenizer NFC-normalizes its input; llama.cpp does not. */
  hfNfc: boolean;
}

const VOCABULARIES: Vocabulary[] = [
  { name: 'qwen3', options: { model: 'gpt2', pre: 'qwen2', eos: '<|im_end|>', addBos: false }, hfNfc: true },
  {
    name: 'llama3',
    options: { model: 'gpt2', pre: 'llama-bpe', bos: '<|begin_of_text|>', eos: '<|eot_id|>' },
    hfNfc: false,
  },
  {
    name: 'gemma3',
    options: { model: 'llama', bos: '<bos>', eos: '<eos>', addSpacePrefix: false },
    hfNfc: false,
  },
];

const CACHE = new URL('../../../node_modules/.cache/dure/tokenizer/', import.meta.url);
const { source, lines } = referenceLines();
const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

let llama: Llama;
beforeAll(async () => {
  console.log(`tokenizer reference lines: ${source}; ${lines.length} lines in all`);
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
});
afterAll(async () => {
  await llama.dispose();
});

describe.each(VOCABULARIES)('$name vocabulary', ({ name, options, hfNfc }) => {
  let dure: Tokenizer;
  let hf: HfTokenizer;
  let model: LlamaModel;

  beforeAll(async () => {
    const pkg = `@lenml/tokenizer-${name}`;
    const json = JSON.parse(
      readFileSync(new URL(import.meta.resolve(`${pkg}/models/tokenizer.json`)), 'utf8'),
    ) as HfTokenizerJson;
    const md = metadataFromHf(json, options);
    dure = createTokenizer(md);
    const mod = (await import(pkg)) as { fromPreTrained(): HfTokenizer };
    hf = mod.fromPreTrained();
    mkdirSync(CACHE, { recursive: true });
    const file = new URL(`${name}-vocab.gguf`, CACHE);
    writeFileSync(file, metadataOnlyGguf(new Map([...tinyLlamaArchMetadata(), ...md])));
    model = await llama.loadModel({ modelPath: file.pathname, vocabOnly: true });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('encodes every line exactly as llama.cpp does (parse_special on and off)', () => {
    const bad: string[] = [];
    for (const line of lines) {
      const ours = dure.encode(line, { parseSpecial: true });
      if (!same(ours, model.tokenize(line, true))) bad.push(line);
      // Without parse_special only text containing token-like markup can differ; check those lines.
      if (line.includes('<') || line.includes('[')) {
        if (!same(dure.encode(line), model.tokenize(line, false))) bad.push(`(no parse_special) ${line}`);
      }
    }
    console.log(`${name}: ${lines.length} lines vs llama.cpp, ${bad.length} mismatches`);
    expect(bad).toEqual([]);
  });

  it('encodes every line exactly as the Hugging Face tokenizer does', () => {
    const bad: string[] = [];
    let nfcOnly = 0;
    for (const line of lines) {
      const ref = hf.encode(line, { add_special_tokens: false });
      if (same(dure.encode(line, { parseSpecial: true }), ref)) continue;
      // The only allowed difference: HF's NFC normalizer (llama.cpp has none). Then the ids must
      // agree once the text is NFC-normalized.
      if (hfNfc && line.normalize('NFC') !== line) {
        nfcOnly++;
        if (same(dure.encode(line.normalize('NFC'), { parseSpecial: true }), ref)) continue;
      }
      bad.push(line);
    }
    console.log(
      `${name}: ${lines.length} lines vs Hugging Face, ${bad.length} mismatches` +
        (nfcOnly > 0
          ? ` (${nfcOnly} differ only by HF's NFC normalization, llama.cpp agrees with Dure)`
          : ''),
    );
    expect(bad).toEqual([]);
  });

  it('decodes exactly as llama.cpp detokenizes', () => {
    const bad: string[] = [];
    for (const line of lines) {
      const ids = dure.encode(line, { parseSpecial: true });
      if (dure.decode(ids) !== model.detokenize(ids as Token[], true)) bad.push(line);
    }
    console.log(`${name}: ${lines.length} detokenizations vs llama.cpp, ${bad.length} mismatches`);
    expect(bad).toEqual([]);
  });
});
