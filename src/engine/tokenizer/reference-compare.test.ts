/**
 * Byte-exact comparison with the two references for the same vocabulary: llama.cpp (through
 * node-llama-cpp, loading the generated test model whose tokenizer metadata Dure reads) and the
 * Hugging Face tokenizer (@lenml/tokenizers, the tokenizer.json that metadata was converted from).
 * Every corpus line and edge case is compared; the counts are printed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TokenizerLoader } from '@lenml/tokenizers';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTestModel,
  corpusBpeTokenizer,
  testModelPath,
  tokenizerMetadata,
  type TestModelSpec,
} from '../../testing/test-models.ts';
import { kv, writeGguf } from '../../tools/gguf/writer.ts';
import { referenceLines } from '../../testing/reference-lines.ts';
import { createTokenizer, type Tokenizer } from './tokenizer.ts';

interface HfTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
}

interface Vocabulary {
  name: 'corpus-bpe' | 'qwen3' | 'llama3' | 'gemma3';
  /** A generated test model carrying the vocabulary (the specs other tests use, so the cache is shared). */
  model: TestModelSpec;
  /** The Hugging Face tokenizer NFC-normalizes its input; llama.cpp does not. */
  hfNfc: boolean;
}

const VOCABULARIES: Vocabulary[] = [
  { name: 'corpus-bpe', model: { arch: 'qwen2', quant: 'Q8_0', tokenizer: 'corpus-bpe' }, hfNfc: true },
  { name: 'qwen3', model: { arch: 'qwen3', quant: 'Q4_K_M', tokenizer: 'qwen3' }, hfNfc: true },
  { name: 'llama3', model: { arch: 'llama', quant: 'Q8_0', tokenizer: 'llama3' }, hfNfc: false },
  { name: 'gemma3', model: { arch: 'gemma2', quant: 'Q4_K', tokenizer: 'gemma3' }, hfNfc: false },
];

async function hfTokenizer(name: Vocabulary['name']): Promise<HfTokenizer> {
  if (name === 'corpus-bpe') {
    const { tokenizer, config } = await corpusBpeTokenizer();
    return TokenizerLoader.fromPreTrained({
      tokenizerJSON: tokenizer as never,
      tokenizerConfig: config as never,
    }) as unknown as HfTokenizer;
  }
  const mod = (await import(`@lenml/tokenizer-${name}`)) as { fromPreTrained(): HfTokenizer };
  return mod.fromPreTrained();
}

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

describe.each(VOCABULARIES)('$name vocabulary', ({ name, model: spec, hfNfc }) => {
  let dure: Tokenizer;
  let hf: HfTokenizer;
  let model: LlamaModel;
  let ours: number[][] = [];

  beforeAll(async () => {
    // llama.cpp loads the generated model file; Dure gets the same tokenizer metadata the file was
    // written from. (Not read back through the GGUF reader here: it currently drops a leading
    // U+FEFF from strings, which turns Gemma's "\uFEFF//" into a duplicate of "//".)
    const path = await testModelPath(spec);
    dure = createTokenizer(new Map(await tokenizerMetadata(spec.tokenizer ?? 'corpus-bpe')));
    hf = await hfTokenizer(name);
    model = await llama.loadModel({ modelPath: path, vocabOnly: true });
    // Encoded once and shared by the comparisons below. The time is printed, not asserted: speed
    // belongs to benchmarks, but the figure is worth seeing.
    const t0 = performance.now();
    ours = lines.map((line) => dure.encode(line, { parseSpecial: true }));
    const ms = performance.now() - t0;
    const mb = new TextEncoder().encode(lines.join('\n')).length / 1e6;
    console.log(`${name}: Dure encoded ${lines.length} lines (${mb.toFixed(2)} MB) in ${ms.toFixed(0)} ms`);
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('encodes every line exactly as llama.cpp does (parse_special on and off)', () => {
    const bad: string[] = [];
    for (const [i, line] of lines.entries()) {
      if (!same(ours[i] ?? [], model.tokenize(line, true))) bad.push(line);
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
    for (const [i, line] of lines.entries()) {
      const ref = hf.encode(line, { add_special_tokens: false });
      if (same(ours[i] ?? [], ref)) continue;
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
    for (const [i, line] of lines.entries()) {
      const ids = ours[i] ?? [];
      if (dure.decode(ids) !== model.detokenize(ids as Token[], true)) bad.push(line);
    }
    console.log(`${name}: ${lines.length} detokenizations vs llama.cpp, ${bad.length} mismatches`);
    expect(bad).toEqual([]);
  });
});

// The other pre-tokenizers Dure must support, each checked against llama.cpp on the whole corpus:
// the corpus BPE vocabulary written into a model with a different tokenizer.ggml.pre.
describe.each(['gpt-2', 'llama-bpe', 'exaone', 'default'])('pre-tokenizer %s', (pre) => {
  let dure: Tokenizer;
  let model: LlamaModel;

  beforeAll(async () => {
    const tok = (await tokenizerMetadata('corpus-bpe')).map(
      ([k, v]) => [k, k === 'tokenizer.ggml.pre' ? kv.str(pre) : v] as [string, typeof v],
    );
    dure = createTokenizer(new Map(tok));
    const dir = fileURLToPath(new URL('../../../node_modules/.cache/dure/tokenizer/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const path = `${dir}corpus-bpe-pre-${pre}.gguf`;
    writeFileSync(
      path,
      writeGguf(buildTestModel({ arch: 'qwen2', quant: 'Q8_0', tokenizer: 'corpus-bpe' }, tok)),
    );
    model = await llama.loadModel({ modelPath: path, vocabOnly: true });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('splits and merges every line exactly as llama.cpp does', () => {
    const bad = lines.filter(
      (line) => !same(dure.encode(line, { parseSpecial: true }), model.tokenize(line, true)),
    );
    console.log(`pre ${pre}: ${lines.length} lines vs llama.cpp, ${bad.length} mismatches`);
    expect(bad).toEqual([]);
  });
});
