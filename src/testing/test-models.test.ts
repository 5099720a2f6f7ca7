import { KO_LINES } from './fixtures/ko-lines.ts';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTensor } from '../engine/gguf/metadata.ts';
import { dequantize } from '../engine/gguf/quant/index.ts';
import { readGguf, readTensorBytes } from '../engine/gguf/reader.ts';
import { FileSource } from '../node/file-source.ts';
import {
  corpusBpeTokenizer,
  corpusDir,
  TEST_DIMS,
  TEST_QUANTS,
  testModelLabel,
  testModelMatrix,
  testModelPath,
  type TestModelSpec,
} from './test-models.ts';

const TEXT = '대한민국 정부는 인공지능 서비스를 공공 부문에 도입한다.';

let llama: Llama;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
});
afterAll(async () => {
  await llama?.dispose();
});

interface HfTokenizer {
  encode(text: string, opts: { add_special_tokens: boolean }): number[];
}

/** Korean lines from the shared corpus plus edge cases (mixed scripts, emoji, jamo, specials). */
let lines: string[] | undefined;
async function sampleLines(): Promise<string[]> {
  if (!lines) {
    const dir = corpusDir();
    const files = await readdir(dir).then(
      (f) => f.filter((n) => n.endsWith('.txt')).sort(),
      () => [] as string[],
    );
    if (files.length === 0) console.warn(`note: ${dir} not found; comparing on Dure's own Korean fixtures`);
    const text = files.length ? await readFile(join(dir, files[0]!), 'utf8') : KO_LINES.join('\n');
    lines = text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(0, 120);
    lines.push(
      'Hello 世界! 안녕하세요 😀 ㄱㄴㄷ ᄀᄂ  spaces   and\ttabs 123456789 ＡＢＣ，。',
      '<|im_start|>user\n안녕하세요<|im_end|>\n',
      '  leading and trailing  ',
    );
  }
  return lines;
}

/**
 * Loads `spec` in llama.cpp and returns the raw logits after evaluating `TEXT`; with `keep`, the
 * model stays loaded and is returned (the caller disposes it).
 */
async function llamaLogits(
  spec: TestModelSpec,
  keep = false,
): Promise<{ logits: Float32Array; tokens: Token[]; path: string; model?: LlamaModel }> {
  const path = await testModelPath(spec);
  const model = await llama.loadModel({ modelPath: path });
  try {
    // One thread: the models are tiny and the test machine is shared.
    const ctx = await model.createContext({ contextSize: 128, batchSize: 64, threads: 1 });
    try {
      const tokens = model.tokenize(TEXT);
      const input = tokens.map((t, i) =>
        i === tokens.length - 1 ? ([t, { generateNext: { logits: true } }] as const) : t,
      );
      const out = await ctx
        .getSequence()
        .controlledEvaluate(input as Parameters<ReturnType<typeof ctx.getSequence>['controlledEvaluate']>[0]);
      const raw = out[tokens.length - 1]?.next?.logits;
      if (!raw) throw new Error('llama.cpp returned no logits');
      let n = 0;
      for (const tok of raw.keys()) n = Math.max(n, (tok as number) + 1);
      const logits = new Float32Array(n);
      for (const [tok, v] of raw) logits[tok as number] = v;
      return keep ? { logits, tokens, path, model } : { logits, tokens, path };
    } finally {
      await ctx.dispose();
    }
  } finally {
    if (!keep) await model.dispose();
  }
}

function stats(x: Float32Array): { std: number; margin: number } {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let varSum = 0;
  let top = -Infinity;
  let second = -Infinity;
  for (const v of x) {
    varSum += (v - mean) ** 2;
    if (v > top) {
      second = top;
      top = v;
    } else if (v > second) second = v;
  }
  return { std: Math.sqrt(varSum / x.length), margin: top - second };
}

describe('llama.cpp loads the generated test models', () => {
  // The cases the model-level tests run (every architecture and every type, not every pair).
  for (const spec of testModelMatrix({ realShape: true })) {
    it(testModelLabel(spec), async () => {
      const { logits, tokens } = await llamaLogits(spec);
      expect(tokens.length).toBeGreaterThan(3);
      expect(logits.every(Number.isFinite)).toBe(true);
      const { std, margin } = stats(logits);
      // Weights are scaled for unit-std logits (see test-models.ts); gemma2 soft-caps at 30.
      expect(std).toBeGreaterThan(0.5);
      expect(std).toBeLessThan(2);
      expect(margin).toBeGreaterThan(1e-3);
    });
  }

  // Real vocabularies: the model loads and evaluates, and llama.cpp tokenizes our converted
  // vocabulary exactly as the Hugging Face tokenizer does with the original tokenizer.json.
  for (const [arch, quant, tokenizer] of [
    ['qwen3', 'Q4_K_M', 'qwen3'],
    ['llama', 'Q8_0', 'llama3'],
    ['gemma2', 'Q4_K', 'gemma3'],
  ] as const) {
    it(`${arch} ${quant} with the real ${tokenizer} tokenizer`, async () => {
      const { logits, tokens, model } = await llamaLogits({ arch, quant, tokenizer }, true);
      try {
        expect(tokens.length).toBeGreaterThan(3);
        expect(logits.every(Number.isFinite)).toBe(true);
        expect(stats(logits).std).toBeGreaterThan(0.5);
        const hf = (
          (await import(`@lenml/tokenizer-${tokenizer}`)) as { fromPreTrained(): HfTokenizer }
        ).fromPreTrained();
        const mismatches = (await sampleLines()).filter(
          (line) =>
            model!.tokenize(line, true).join() !== hf.encode(line, { add_special_tokens: false }).join(),
        );
        expect(mismatches).toEqual([]);
      } finally {
        await model?.dispose();
      }
    });
  }

  it('the corpus BPE vocabulary tokenizes in llama.cpp as in the Hugging Face tokenizer', async () => {
    const { tokenizer, config } = await corpusBpeTokenizer();
    const hf = TokenizerLoader.fromPreTrained({
      tokenizerJSON: tokenizer as never,
      tokenizerConfig: config as never,
    }) as unknown as HfTokenizer;
    const model = await llama.loadModel({
      modelPath: await testModelPath({ arch: 'qwen2', quant: 'Q8_0' }),
      vocabOnly: true,
    });
    try {
      const lines = await sampleLines();
      const mismatches = lines.filter(
        (line) => model.tokenize(line, true).join() !== hf.encode(line, { add_special_tokens: false }).join(),
      );
      expect(mismatches).toEqual([]);
      // A vocabulary learned from the corpus should compress it well (≈ 2+ bytes per token).
      const bytes = lines.reduce((a, l) => a + new TextEncoder().encode(l).length, 0);
      const toks = lines.reduce((a, l) => a + model.tokenize(l, true).length, 0);
      expect(bytes / toks).toBeGreaterThan(2);
    } finally {
      await model.dispose();
    }
  });
});

describe('llama.cpp reads our quantized bytes as our dequantizer does', () => {
  // With identity blocks the logits are output · rmsnorm(token_embd[last]) ⊙ output_norm, computed
  // here from our dequantizer. llama.cpp's CPU matmul quantizes the activations (to q8_K / q8_0)
  // for quantized weights, hence a small tolerance; a layout error would be off by O(1).
  for (const quant of TEST_QUANTS) {
    it(quant, async () => {
      const spec: TestModelSpec = { arch: 'llama', quant, identityBlocks: true };
      const { logits, tokens, path } = await llamaLogits(spec);
      const src = await FileSource.open(path);
      try {
        const file = await readGguf(src);
        const tensor = async (name: string) => {
          const t = getTensor(file, name);
          return dequantize(t.type, await readTensorBytes(file, t), t.elements);
        };
        const n = TEST_DIMS.nEmbd;
        const embd = await tensor('token_embd.weight');
        const g = await tensor('output_norm.weight');
        const out = await tensor('output.weight');
        const last = tokens[tokens.length - 1] as number;
        const x = embd.subarray(last * n, (last + 1) * n);
        let ss = 0;
        for (const v of x) ss += v * v;
        const inv = 1 / Math.sqrt(ss / n + 1e-5);
        const y = x.map((v, i) => v * inv * g[i]!);
        let maxErr = 0;
        let maxRef = 0;
        for (let j = 0; j < logits.length; j++) {
          let acc = 0;
          for (let i = 0; i < n; i++) acc += out[j * n + i]! * y[i]!;
          maxErr = Math.max(maxErr, Math.abs(acc - logits[j]!));
          maxRef = Math.max(maxRef, Math.abs(acc));
        }
        // Measured: F32 1e-7, F16 2e-4, BF16 2e-3, Q8_0..Q6_K 5-6e-3 (activation quantization).
        const tol = quant === 'F32' ? 1e-5 : quant === 'F16' ? 1e-3 : quant === 'BF16' ? 5e-3 : 2e-2;
        expect(maxErr / maxRef).toBeLessThan(tol);
      } finally {
        await src.close();
      }
    });
  }
});
