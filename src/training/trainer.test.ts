/**
 * The WebGPU LoRA trainer on tiny generated models: its loss equals the float64 CPU reference's
 * cross-entropy, its gradients are the loss's derivatives (central differences of the trainer's own
 * loss), AdamW steps lower the loss, FFA-LoRA leaves lora_A alone, and bad input is refused with
 * typed errors. (The comparison with the independent tfjs implementation is gradients.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../node/file-source.ts';
import { readGguf } from '../engine/gguf/reader.ts';
import { CpuReferenceModel } from '../testing/cpu-forward.ts';
import { testTrainingGpu } from '../testing/node-gpu.ts';
import {
  buildTestModel,
  testModelPath,
  tokenizerMetadata,
  type TestModelSpec,
} from '../testing/test-models.ts';
import { MemorySource } from '../engine/gguf/sources.ts';
import type { ByteSource } from '../engine/gguf/types.ts';
import { kv, writeGguf } from '../tools/gguf/writer.ts';
import type { KvList } from '../tools/gguf/hf-tokenizer.ts';
import { KNOWN_TARGET_MODULES } from '../protocol/lora.ts';
import type { LoraTensors, LoraTrainer, OptimizerOptions, TrainerOptions, TrainExample } from './api.ts';
import { AdapterMismatchError, TrainingDataError } from './errors.ts';
import { loraLayout } from './lora-layout.ts';
import { createLoraTrainer, logitRows, trainerForwardKernelLabels } from './trainer.ts';
import { ForwardPass } from '../engine/model/forward.ts';
import { uploadModelWeights } from '../engine/model/weights.ts';
import { modelConfig } from '../engine/model/config.ts';

const RANK = 4;
const ALPHA = 8;

/** A seeded adapter with non-zero A and B, so every gradient path is exercised. */
function randomAdapter(cfg: ReturnType<typeof modelConfig>, seed: number, scaleB = 0.05): LoraTensors {
  const layout = loraLayout(cfg, { rank: RANK, alpha: ALPHA, targetModules: KNOWN_TARGET_MODULES });
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  const tensors = new Map<string, Float32Array>();
  for (const sl of layout.slots) {
    tensors.set(
      sl.nameA,
      Float32Array.from({ length: RANK * sl.inFeatures }, () => rnd() * 0.2),
    );
    tensors.set(
      sl.nameB,
      Float32Array.from({ length: sl.outFeatures * RANK }, () => rnd() * scaleB),
    );
  }
  return { rank: RANK, alpha: ALPHA, targetModules: [...KNOWN_TARGET_MODULES], tensors };
}

function example(ids: number[], promptLen: number): TrainExample {
  return {
    ids: Uint32Array.from(ids),
    lossMask: Uint8Array.from(ids, (_, i) => (i >= promptLen ? 1 : 0)),
  };
}

const BATCH = [
  example([1, 17, 200, 33, 5, 99, 250, 7, 12, 64, 3, 8], 4),
  example([2, 40, 41, 42, 43, 300, 301, 5], 3),
  example([9, 9, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116], 10),
];

/** Mean next-token cross-entropy of the float64 reference over the batch's answer tokens. */
function referenceLoss(ref: CpuReferenceModel, batch: TrainExample[]): { loss: number; tokens: number } {
  let nll = 0;
  let n = 0;
  for (const ex of batch) {
    ref.reset();
    for (let t = 0; t + 1 < ex.ids.length; t++) {
      const z = ref.step(ex.ids[t]!, t);
      if (!ex.lossMask[t + 1]) continue;
      let m = -Infinity;
      for (const v of z) m = Math.max(m, v);
      let s = 0;
      for (const v of z) s += Math.exp(v - m);
      nll += m + Math.log(s) - z[ex.ids[t + 1]!]!;
      n++;
    }
  }
  return { loss: nll / n, tokens: n };
}

/**
 * Along a tensor's own gradient direction u = g/|g|, dL/dε at ε = 0 is |g|: a derivative large
 * enough to stand far above float32 noise in the loss. Returns |g| and the central difference.
 */
async function centralDifference(
  trainer: LoraTrainer,
  adapter: LoraTensors,
  g: Float32Array,
  name: string,
): Promise<{ norm: number; numeric: number }> {
  const norm = Math.hypot(...g);
  expect(norm, name).toBeGreaterThan(0);
  const base = adapter.tensors.get(name)!;
  const eps = 1e-2;
  const at = async (e: number) => {
    const t = new Map(adapter.tensors);
    t.set(
      name,
      base.map((v, i) => v + (e * g[i]!) / norm),
    );
    await trainer.setAdapter({ ...adapter, tensors: t });
    return (await trainer.evaluate(BATCH)).loss;
  };
  const numeric = ((await at(eps)) - (await at(-eps))) / (2 * eps);
  return { norm, numeric };
}

/**
 * The gemma2 test model with soft-caps small enough (attention 1, final 2) that their derivatives
 * change the gradients well beyond the central-difference tolerance (the file's 50 and 30 barely bend).
 */
async function gemma2TightCaps(): Promise<Uint8Array> {
  const built = buildTestModel({ arch: 'gemma2', quant: 'F32' }, await tokenizerMetadata('corpus-bpe'));
  const caps: Record<string, number> = {
    'gemma2.attn_logit_softcapping': 1,
    'gemma2.final_logit_softcapping': 2,
  };
  const metadata = built.metadata.map(([k, v]): KvList[number] => [k, k in caps ? kv.f32(caps[k]!) : v]);
  return writeGguf({ metadata, tensors: built.tensors });
}

async function setup(
  spec: TestModelSpec | Uint8Array,
  opt: Partial<OptimizerOptions> = {},
  seed = 7,
  extra: Pick<TrainerOptions, 'maxLogitRows'> = {},
) {
  const path = spec instanceof Uint8Array ? undefined : await testModelPath(spec);
  const open = async (): Promise<ByteSource> =>
    path ? await FileSource.open(path) : new MemorySource(spec as Uint8Array);
  const src = await open();
  const file = await readGguf(src);
  const cfg = modelConfig(file);
  const adapter = randomAdapter(cfg, seed);
  const { device } = await testTrainingGpu();
  // The trainer reads its source while it is created; the caller keeps (and closes) it.
  const own = await open();
  const trainer = await createLoraTrainer(device, own, {
    adapter,
    maxSeqLen: 24,
    optimizer: { learningRate: 1e-2, ...opt },
    ...extra,
  }).finally(() => own.close?.());
  return { trainer, adapter, file, cfg, src };
}

describe('LoRA trainer (llama F32)', () => {
  let trainer: LoraTrainer;
  let adapter: LoraTensors;
  let ref: CpuReferenceModel;
  beforeAll(async () => {
    const s = await setup({ arch: 'llama', quant: 'F32' });
    trainer = s.trainer;
    adapter = s.adapter;
    ref = await CpuReferenceModel.load(s.file);
    ref.setAdapters([{ lora: adapter }]);
    await s.src.close?.();
  }, 120_000);
  afterAll(() => trainer?.dispose());

  it('evaluates the same cross-entropy as the float64 CPU reference with the adapter', async () => {
    const { loss: want, tokens: n } = referenceLoss(ref, BATCH);
    const got = await trainer.evaluate(BATCH);
    expect(got.tokens).toBe(n);
    expect(Math.abs(got.loss - want) / want).toBeLessThan(1e-5);
    const g = await trainer.gradients(BATCH);
    expect(Math.abs(g.loss - want) / want).toBeLessThan(1e-5);
  }, 120_000);

  it('computes logits a few rows at a time, only where there is loss: same loss and gradients', async () => {
    // Answers in two separate runs (a two-turn conversation), a one-token answer, an answer at
    // the very start; with 3 logit rows at a time every window takes several chunks.
    const masked = (ids: number[], mask: number[]): TrainExample => ({
      ids: Uint32Array.from(ids),
      lossMask: Uint8Array.from(mask),
    });
    const batch = [
      masked(
        [1, 17, 200, 33, 5, 99, 250, 7, 12, 64, 3, 8, 40, 41],
        [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1],
      ),
      masked([2, 40, 41, 42, 43, 300], [0, 0, 0, 0, 0, 1]),
      masked([9, 100, 101, 102, 103, 104, 105], [0, 1, 1, 1, 1, 1, 1]),
    ];
    const s = await setup({ arch: 'llama', quant: 'F32' }, {}, 7, { maxLogitRows: 3 });
    try {
      const { loss: want, tokens } = referenceLoss(ref, batch);
      const got = await s.trainer.gradients(batch);
      expect(got.tokens).toBe(tokens);
      expect(Math.abs(got.loss - want) / want).toBeLessThan(1e-5);
      const all = await trainer.gradients(batch);
      for (const [name, g] of all.grads) {
        const h = got.grads.get(name)!;
        let diff = 0;
        let norm = 0;
        for (let i = 0; i < g.length; i++) {
          diff = Math.max(diff, Math.abs(g[i]! - h[i]!));
          norm = Math.max(norm, Math.abs(g[i]!));
        }
        expect(norm, name).toBeGreaterThan(0);
        expect(diff / norm, name).toBeLessThan(1e-5);
      }
    } finally {
      s.trainer.dispose();
      await s.src.close?.();
    }
  }, 120_000);

  it('sizes the logit rows from a 64 MiB budget and the binding limit', () => {
    expect(logitRows(151_936, 512, 2 ** 31)).toBe(110); // Qwen2.5: 110 rows × 151,936 × 4 B ≈ 64 MiB
    expect(logitRows(262_144, 2048, 2 ** 27)).toBe(64); // Gemma 3
    expect(logitRows(4096, 512, 2 ** 27)).toBe(512); // a small vocabulary: every row at once
    expect(logitRows(262_144, 512, 2 ** 20)).toBe(1); // a tiny binding limit still trains
  });

  it('returns gradients that match central differences of the loss', async () => {
    const { grads } = await trainer.gradients(BATCH);
    // Along each tensor's own gradient direction u = g/|g|, dL/dε at ε = 0 is |g|: a derivative
    // large enough to stand far above float32 noise in the loss, for every module and both factors.
    for (const name of [
      'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight',
      'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight',
      'base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight',
      'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight',
      'base_model.model.model.layers.0.self_attn.o_proj.lora_A.weight',
      'base_model.model.model.layers.1.mlp.gate_proj.lora_B.weight',
      'base_model.model.model.layers.0.mlp.up_proj.lora_A.weight',
      'base_model.model.model.layers.1.mlp.down_proj.lora_B.weight',
    ]) {
      const { norm, numeric } = await centralDifference(trainer, adapter, grads.get(name)!, name);
      expect(Math.abs(numeric - norm) / norm, `${name}: |g| ${norm} vs numeric ${numeric}`).toBeLessThan(
        2e-2,
      );
    }
    await trainer.setAdapter(adapter);
  }, 240_000);

  it('lowers the training loss with AdamW steps and returns the trained adapter', async () => {
    const before = (await trainer.evaluate(BATCH)).loss;
    for (let i = 0; i < 8; i++) await trainer.step(BATCH);
    const after = (await trainer.evaluate(BATCH)).loss;
    expect(after).toBeLessThan(before - 0.1);
    const trained = await trainer.getAdapter();
    const b0 = 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight';
    expect(trained.tensors.get(b0)).not.toEqual(adapter.tensors.get(b0));
    await trainer.setAdapter(adapter);
    expect((await trainer.evaluate(BATCH)).loss).toBeCloseTo(before, 5);
  }, 240_000);

  it('refuses bad examples and adapters with typed errors, and keeps working', async () => {
    await expect(
      trainer.step([
        example(
          Array.from({ length: 30 }, (_, i) => i + 1),
          2,
        ),
      ]),
    ).rejects.toThrow(TrainingDataError);
    await expect(trainer.step([example([1, 2, 3], 3)])).rejects.toThrow(/no answer tokens/);
    await expect(trainer.step([example([1, 999999, 3], 1)])).rejects.toThrow(/vocabulary/);
    const bad = new Map(adapter.tensors);
    bad.set('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', new Float32Array(3));
    await expect(trainer.setAdapter({ ...adapter, tensors: bad })).rejects.toThrow(AdapterMismatchError);
    const nan = new Map(adapter.tensors);
    const t = nan.get('base_model.model.model.layers.1.mlp.up_proj.lora_B.weight')!.slice();
    t[0] = NaN;
    nan.set('base_model.model.model.layers.1.mlp.up_proj.lora_B.weight', t);
    await expect(trainer.setAdapter({ ...adapter, tensors: nan })).rejects.toThrow(/non-finite/);
    expect(Number.isFinite((await trainer.evaluate(BATCH)).loss)).toBe(true);
  });
});

describe('LoRA trainer variants', () => {
  it('FFA-LoRA (trainA: false) trains lora_B only and leaves lora_A bit-identical', async () => {
    const { trainer, adapter, src } = await setup({ arch: 'llama', quant: 'Q8_0' }, { trainA: false });
    await src.close?.();
    try {
      const before = (await trainer.evaluate(BATCH)).loss;
      for (let i = 0; i < 5; i++) await trainer.step(BATCH);
      expect((await trainer.evaluate(BATCH)).loss).toBeLessThan(before);
      const after = await trainer.getAdapter();
      for (const [name, v] of adapter.tensors) {
        if (name.includes('lora_A')) expect(after.tensors.get(name)).toEqual(v);
      }
      const g = await trainer.gradients(BATCH);
      expect([...g.grads.keys()].every((n) => n.includes('lora_B'))).toBe(true);
    } finally {
      trainer.dispose();
    }
  }, 240_000);
});

/**
 * The architectures the trainer's layer gained (per-head q/k norms, post-norms, no pre-norms,
 * per-layer RoPE, GELU, sliding windows, soft-caps): its loss is the float64 reference's
 * cross-entropy and its gradients are the loss's derivatives, on qwen3, exaone4, gemma3 (window 4 <
 * the sequences) and gemma2 (attention and final soft-caps); and on exaone (EXAONE 3.5: llama's
 * layer under its own tensor names), so every architecture the engine runs is trained here or in
 * gradients.test.ts (llama, qwen2).
 */
describe.each(['qwen3', 'exaone4', 'gemma3', 'gemma2', 'exaone'] as const)(
  'LoRA trainer on %s F32',
  (arch) => {
    let trainer: LoraTrainer;
    let adapter: LoraTensors;
    let ref: CpuReferenceModel;
    let inference: ForwardPass;
    beforeAll(async () => {
      const s = await setup(arch === 'gemma2' ? await gemma2TightCaps() : { arch, quant: 'F32' });
      trainer = s.trainer;
      adapter = s.adapter;
      ref = await CpuReferenceModel.load(s.file);
      ref.setAdapters([{ lora: adapter }]);
      const { device } = await testTrainingGpu();
      inference = await ForwardPass.create(device, s.cfg, await uploadModelWeights(device, s.cfg, s.file), {
        contextLength: 24,
        maxBatch: 24,
        subgroups: device.features.has('subgroups'),
        fused: false,
      });
      await s.src.close?.();
    }, 120_000);
    afterAll(() => {
      trainer?.dispose();
      inference?.weights.destroy();
      inference?.destroy();
    });

    it("runs the inference forward's layer kernels in the same order (one layer graph)", () => {
      // The trainer adds a copy before each residual add and LoRA products; inference's attention
      // adds split-KV decode dispatches (the grids of the path a step does not take are empty).
      const layerKernel = (l: string) => !/^(copy|gemm)|SPLIT|COMBINE/.test(l);
      const infer = inference.bodyKernelLabels.filter(layerKernel);
      const train = trainerForwardKernelLabels(trainer).filter(layerKernel);
      expect(infer.length).toBeGreaterThan(10);
      // Then the trainer's head: the final norm and the logits product.
      expect(train.slice(0, infer.length)).toEqual(infer);
      expect(train.length - infer.length).toBe(2);
    });

    it('loss equals the float64 reference and gradients match central differences', async () => {
      const { loss: want } = referenceLoss(ref, BATCH);
      const g = await trainer.gradients(BATCH);
      expect(Math.abs(g.loss - want) / want).toBeLessThan(1e-5);
      for (const name of [
        // Through the q/k norms and RoPE, the post-attention norm, and the post-FFN norm.
        'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
        'base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight',
        'base_model.model.model.layers.0.mlp.down_proj.lora_B.weight',
      ]) {
        const { norm, numeric } = await centralDifference(trainer, adapter, g.grads.get(name)!, name);
        expect(Math.abs(numeric - norm) / norm, `${name}: |g| ${norm} vs numeric ${numeric}`).toBeLessThan(
          2e-2,
        );
      }
      await trainer.setAdapter(adapter);
    }, 240_000);
  },
);
