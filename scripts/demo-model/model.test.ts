import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySource, readGguf } from '../../src/engine/gguf/index.ts';
import type { KvList } from '../../src/tools/gguf/hf-tokenizer.ts';
import { chatTemplateFromMetadata } from '../../src/engine/chat-template/index.ts';
import { createTokenizer, type Tokenizer } from '../../src/engine/tokenizer/index.ts';
import { textExample } from '../../src/training/examples.ts';
import { initialAdapter } from '../../src/protocol/lora.ts';
import { loadReferenceModel } from '../../src/testing/llama-cpp.ts';
import { testGpu } from '../../src/testing/node-gpu.ts';
import { tokenizerMetadata } from '../../src/testing/test-models.ts';
import type { LoraTensors } from '../../src/training/api.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  enginePerplexity,
  llamaCppPerplexity,
  loadEngine,
  negLogProb,
  unigramPerplexity,
} from './evaluate.ts';
import {
  ALL_MODULES,
  DemoModelError,
  demoMetadata,
  loraModelShape,
  mergeAdapter,
  randomBase,
  readWeights,
  writeModel,
  type DemoShape,
} from './model.ts';

const SHAPE: DemoShape = {
  nEmbd: 128,
  nLayer: 2,
  nHead: 2,
  nHeadKv: 2,
  headDim: 64,
  nFf: 256,
  contextLength: 256,
};
let tokMd: KvList;
let tok: Tokenizer;
let dir: string;

beforeAll(async () => {
  tokMd = await tokenizerMetadata('corpus-bpe');
  tok = createTokenizer(new Map(tokMd));
  dir = await mkdtemp(join(tmpdir(), 'dure-demo-model-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function randomAdapter(rank: number): LoraTensors {
  const init = initialAdapter(loraModelShape(SHAPE), {
    rank,
    alpha: 2 * rank,
    targetModules: ALL_MODULES,
    seed: 5,
  });
  // A non-zero B, so the merge really adds something.
  const tensors = new Map(
    init.map((t) => [
      t.name,
      t.name.includes('lora_B') ? t.data.map((_, i) => Math.sin(i * 0.37) * 0.05) : t.data,
    ]),
  );
  return { rank, alpha: 2 * rank, targetModules: ALL_MODULES, tensors };
}

describe('mergeAdapter', () => {
  it('adds (alpha/r)·B·A to every adapted weight, row = output', () => {
    const nVocab = tok.vocabSize;
    const w = randomBase(SHAPE, nVocab, 1);
    const before = new Map([...w].map(([k, v]) => [k, v.data.slice()]));
    const ad = randomAdapter(4);
    mergeAdapter(w, ad);
    const a = ad.tensors.get('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight')!;
    const b = ad.tensors.get('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight')!;
    const nIn = SHAPE.nFf;
    for (const [o, i] of [
      [0, 0],
      [5, 200],
      [127, 255],
    ] as const) {
      let d = 0;
      for (let k = 0; k < 4; k++) d += b[o * 4 + k]! * a[k * nIn + i]!;
      const got = w.get('blk.1.ffn_down.weight')!.data[o * nIn + i]!;
      expect(got).toBeCloseTo(before.get('blk.1.ffn_down.weight')![o * nIn + i]! + 2 * d, 6);
    }
    // Tensors outside the adapter are untouched.
    // (Compared by hand: vitest's deep equality on 0.5M-element typed arrays takes tens of seconds.)
    const same = (name: string) => w.get(name)!.data.every((v, i) => v === before.get(name)![i]);
    expect(same('token_embd.weight')).toBe(true);
    expect(same('blk.0.attn_norm.weight')).toBe(true);
    expect(same('blk.1.ffn_down.weight')).toBe(false);
  });

  it('rejects an adapter that does not fit', () => {
    const w = randomBase(SHAPE, tok.vocabSize, 1);
    const ad = randomAdapter(4);
    ad.tensors.set('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', new Float32Array(3));
    expect(() => mergeAdapter(w, ad)).toThrow(DemoModelError);
  });
});

describe('writeModel', () => {
  it('writes a Q8_0 llama GGUF with ChatML that Dure and llama.cpp load and score alike', async () => {
    const nVocab = tok.vocabSize;
    const w = randomBase(SHAPE, nVocab, 2, 0.1);
    const bytes = writeModel(w, demoMetadata(SHAPE, tokMd, nVocab, { name: 'test-demo' }));
    const file = await readGguf(new MemorySource(bytes));
    expect(file.metadata.get('general.architecture')?.value).toBe('llama');
    expect(file.tensors.find((t) => t.name === 'blk.0.attn_q.weight')?.type).toBe(8); // Q8_0
    expect(file.tensors.find((t) => t.name === 'output_norm.weight')?.type).toBe(0); // F32
    expect(chatTemplateFromMetadata(file.metadata)?.source).toContain('<|im_start|>');
    // The read-back weights are the Q8_0 values: within Q8_0's step of the originals.
    const back = await readWeights(file);
    const q = back.get('blk.1.ffn_up.weight')!.data;
    const orig = w.get('blk.1.ffn_up.weight')!.data;
    let maxErr = 0;
    for (let i = 0; i < q.length; i++) maxErr = Math.max(maxErr, Math.abs(q[i]! - orig[i]!));
    expect(maxErr).toBeGreaterThan(0);
    expect(maxErr).toBeLessThan(0.01);

    const texts = ['행정 서비스는 시민의 편의를 높입니다.', '인공지능 기술이 공공 분야에 도입되고 있다.'];
    const examples = texts.map((t) => textExample(tok.encode(t)));
    const { device } = await testGpu();
    const engine = await loadEngine(device, bytes, 128);
    const ours = await enginePerplexity(engine, examples);
    // One position by hand: the engine's logits for the first prefix.
    await engine.reset();
    const nll0 = negLogProb(await engine.logits([examples[0]!.ids[0]!]), examples[0]!.ids[1]!);
    expect(nll0).toBeGreaterThan(0);
    await engine.dispose();
    const path = join(dir, 'demo.gguf');
    await writeFile(path, bytes);
    const model = await loadReferenceModel(path);
    const ref = await llamaCppPerplexity(model, examples);
    await model.dispose();
    expect(ours.tokens).toBe(examples.reduce((n, e) => n + e.ids.length - 1, 0));
    expect(ref.tokens).toBe(ours.tokens);
    // Logits here have std ≈ 1, so perplexity is far from uniform; both engines must agree closely.
    expect(Math.abs(ours.perplexity - nVocab) / nVocab).toBeGreaterThan(0.1);
    expect(Math.abs(ours.loss - ref.loss)).toBeLessThan(0.01);
  });
});

describe('unigramPerplexity', () => {
  it('is add-one smoothed frequency over masked tokens', () => {
    const ex = (ids: number[], mask: number[]) => ({
      ids: Uint32Array.from(ids),
      lossMask: Uint8Array.from(mask),
    });
    // Vocabulary 4; train targets: 1, 1, 2 (token 3 masked). Counts+1: [1, 3, 2, 1] / 7.
    const r = unigramPerplexity([ex([0, 1, 1, 2, 3], [0, 1, 1, 1, 0])], [ex([0, 1, 3], [0, 1, 1])], 4);
    expect(r.tokens).toBe(2);
    expect(r.loss).toBeCloseTo(-(Math.log(3 / 7) + Math.log(1 / 7)) / 2, 12);
  });
});
