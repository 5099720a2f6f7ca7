/**
 * The tfjs LoRA reference is only useful as a yardstick if it computes Dure's model (checked
 * against the float64 CPU reference), its gradients are gradients (checked by float64 central
 * differences) and its loss follows the training contract's masking (checked by perturbation).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { readGguf } from '../engine/gguf/reader.ts';
import { MemorySource } from '../engine/gguf/sources.ts';
import type { GgufFile } from '../engine/gguf/types.ts';
import { peftTensorName } from '../protocol/lora.ts';
import type { LoraTensors, TrainExample } from '../training/api.ts';
import { CpuReferenceModel } from './cpu-forward.ts';
import { testModelPath, type TestArch, type TestQuant } from './test-models.ts';
import { exampleBatch, MergedCpuModel, randomAdapter, relativeL2 } from './tfjs-lora-reference-fixtures.ts';
import { TfjsLoraReference, TfjsReferenceError } from './tfjs-lora-reference.ts';

async function open(arch: TestArch, quant: TestQuant): Promise<GgufFile> {
  // Whole file in memory: a few MB, and no file handle left for the garbage collector to close.
  return readGguf(
    new MemorySource(await readFile(await testModelPath({ arch, quant, tokenizer: 'corpus-bpe' }))),
  );
}

/** Logits of every position from the float64 CPU reference, flattened [T·nVocab]. */
function cpuLogits(model: CpuReferenceModel, ids: ArrayLike<number>): Float64Array {
  const v = model.cfg.nVocab;
  const out = new Float64Array(ids.length * v);
  model.reset();
  for (let t = 0; t < ids.length; t++) out.set(model.step(ids[t]!, t), t * v);
  return out;
}

const SHAPES = [
  { length: 12, prompt: 5 },
  { length: 7, prompt: 3 },
  { length: 16, prompt: 9 },
];

describe.each([
  ['llama', 'F32'],
  ['qwen2', 'F32'],
  ['llama', 'Q8_0'],
] as const)('tfjs LoRA reference computes Dure model %s %s', (arch, quant) => {
  let file: GgufFile;
  let ref: TfjsLoraReference;
  beforeAll(async () => {
    file = await open(arch, quant);
    ref = await TfjsLoraReference.load(file);
    return () => ref.dispose();
  });

  it('with B = 0 its logits equal the float64 CPU reference (≤1e-5 relative L2)', async () => {
    const ids = exampleBatch(ref.cfg.nVocab, [{ length: 11, prompt: 0 }], 4)[0]!.ids;
    const zeroB = randomAdapter(ref.cfg, { rank: 2 });
    for (const [n, t] of zeroB.tensors) if (n.includes('lora_B')) t.fill(0);
    const expected = cpuLogits(await CpuReferenceModel.load(file), ids);
    const err = relativeL2(ref.logits(ids, zeroB), expected);
    expect(err).toBeLessThan(1e-5);
    expect(relativeL2(ref.logits(ids), expected)).toBe(err);
  });

  it('with a non-zero adapter on every module its logits equal the merged-weight CPU model', async () => {
    const adapter = randomAdapter(ref.cfg, { rank: 3, seed: 2 });
    const ids = exampleBatch(ref.cfg.nVocab, [{ length: 9, prompt: 0 }], 5)[0]!.ids;
    const merged = await (await MergedCpuModel.load(file)).model(adapter);
    const expected = cpuLogits(merged, ids);
    expect(relativeL2(ref.logits(ids, adapter), expected)).toBeLessThan(1e-5);
    // The adapter really moves the logits (so the agreement above is not the base model's).
    const base = cpuLogits(await CpuReferenceModel.load(file), ids);
    expect(relativeL2(base, expected)).toBeGreaterThan(1e-2);
  });
});

describe('tfjs LoRA reference gradients and loss (llama F32)', () => {
  let ref: TfjsLoraReference;
  let merged: MergedCpuModel;
  let adapter: LoraTensors;
  let batch: TrainExample[];
  let grads: Map<string, Float32Array>;
  let loss: number;
  beforeAll(async () => {
    const file = await open('llama', 'F32');
    ref = await TfjsLoraReference.load(file);
    merged = await MergedCpuModel.load(file);
    adapter = randomAdapter(ref.cfg, { rank: 4, seed: 3 });
    batch = exampleBatch(ref.cfg.nVocab, SHAPES, 6);
    ({ loss, grads } = ref.gradients(adapter, batch));
    return () => ref.dispose();
  });

  it('loss equals the float64 masked mean cross-entropy of the merged model', async () => {
    const expected = await merged.loss(adapter, batch);
    expect(Math.abs(loss - expected) / expected).toBeLessThan(1e-5);
    expect(ref.loss(adapter, batch)).toEqual({ loss, tokens: 7 + 4 + 7 });
  });

  it('has a gradient for every lora_A and lora_B, shaped like it', () => {
    expect([...grads.keys()].sort()).toEqual([...adapter.tensors.keys()].sort());
    for (const [n, g] of grads) {
      expect(g.length).toBe(adapter.tensors.get(n)!.length);
      expect(g.some((x) => x !== 0)).toBe(true);
    }
  });

  // h = 1e-2 measured best: smaller steps expose the float32 rounding of the merged weights
  // (≈1e-5 relative at h = 1e-4), while the O(h²) truncation stays ≈1e-7 here.
  it('matches float64 central finite differences on large and median entries (≤1e-4 relative)', async () => {
    const probes: [number, string, 'A' | 'B'][] = [
      [0, 'q_proj', 'A'],
      [0, 'k_proj', 'B'],
      [1, 'v_proj', 'A'],
      [1, 'o_proj', 'B'],
      [0, 'gate_proj', 'A'],
      [1, 'up_proj', 'B'],
      [0, 'down_proj', 'B'],
      [1, 'down_proj', 'A'],
    ];
    for (const [layer, module, which] of probes) {
      const name = peftTensorName(layer, module, which);
      const g = grads.get(name)!;
      const bySize = [...g.keys()].sort((a, b) => Math.abs(g[a]!) - Math.abs(g[b]!));
      for (const index of [bySize[bySize.length - 1]!, bySize[bySize.length >> 1]!]) {
        const fd = await merged.finiteDifference(adapter, batch, name, index, 1e-2);
        expect(
          Math.abs(g[index]! - fd) / Math.abs(fd),
          `${name}[${index}] ${g[index]} vs ${fd}`,
        ).toBeLessThan(1e-4);
      }
    }
  }, 60_000);

  it('FFA-LoRA mode (A frozen) returns exactly the B gradients', () => {
    const b = ref.gradients(adapter, batch, { trainA: false });
    expect(b.loss).toBe(loss);
    expect([...b.grads.keys()].every((n) => n.includes('lora_B'))).toBe(true);
    expect(b.grads.size).toBe(grads.size / 2);
    for (const [n, g] of b.grads) expect(relativeL2(g, grads.get(n)!)).toBeLessThan(1e-6);
  });

  it('masks: unscored tokens at the end change nothing; context and targets do', () => {
    const ex = batch[0]!;
    const len = ex.ids.length;
    const change = (ids: Uint32Array, mask: Uint8Array, at: number) => {
      const j = ids.slice();
      j[at] = (j[at]! + 17) % ref.cfg.nVocab;
      return { ids: j, lossMask: mask };
    };
    // Last position unscored: its token is neither a target nor context for any target.
    const mask = ex.lossMask.slice();
    mask[len - 1] = 0;
    const before = ref.gradients(adapter, [{ ids: ex.ids, lossMask: mask }]);
    const after = ref.gradients(adapter, [change(ex.ids, mask, len - 1)]);
    expect(after.loss).toBe(before.loss);
    for (const [n, g] of after.grads) expect(g).toEqual(before.grads.get(n));
    // Appending unscored tokens is the same as not having them (causal attention).
    const longer = {
      ids: Uint32Array.from([...ex.ids, 3, 4, 5]),
      lossMask: Uint8Array.from([...ex.lossMask, 0, 0, 0]),
    };
    expect(Math.abs(ref.loss(adapter, [longer]).loss - ref.loss(adapter, [ex]).loss)).toBeLessThan(1e-6);
    // A prompt token (mask 0) is context: changing it changes the loss.
    expect(ref.loss(adapter, [change(ex.ids, ex.lossMask, 2)]).loss).not.toBeCloseTo(
      ref.loss(adapter, [ex]).loss,
      4,
    );
    // A scored token is a target: changing it changes the loss.
    expect(ref.loss(adapter, [change(ex.ids, ex.lossMask, len - 1)]).loss).not.toBeCloseTo(
      ref.loss(adapter, [ex]).loss,
      4,
    );
  });

  it('batch loss is the token-weighted mean over examples, not the mean of example means', () => {
    const per = batch.map((ex) => ref.loss(adapter, [ex]));
    const weighted = per.reduce((s, p) => s + p.loss * p.tokens, 0) / per.reduce((s, p) => s + p.tokens, 0);
    expect(Math.abs(loss - weighted) / weighted).toBeLessThan(1e-6);
    const meanOfMeans = per.reduce((s, p) => s + p.loss, 0) / per.length;
    expect(Math.abs(loss - meanOfMeans)).toBeGreaterThan(1e-4);
  });
});

describe('tfjs LoRA reference input checks', () => {
  let ref: TfjsLoraReference;
  beforeAll(async () => {
    ref = await TfjsLoraReference.load(await open('llama', 'F32'));
    return () => ref.dispose();
  });

  it('rejects architectures it does not implement', async () => {
    await expect(TfjsLoraReference.load(await open('gemma2', 'F32'))).rejects.toBeInstanceOf(
      TfjsReferenceError,
    );
  });

  it('rejects bad batches and adapters with a typed error', () => {
    const adapter = randomAdapter(ref.cfg, { rank: 2, targets: ['q_proj'] });
    const ok = exampleBatch(ref.cfg.nVocab, [{ length: 5, prompt: 2 }])[0]!;
    const bad: [string, LoraTensors, TrainExample[]][] = [
      ['empty batch', adapter, []],
      ['lossMask[0] = 1', adapter, [{ ids: ok.ids, lossMask: Uint8Array.from([1, 0, 0, 1, 1]) }]],
      ['no masked token', adapter, [{ ids: ok.ids, lossMask: new Uint8Array(5) }]],
      ['length mismatch', adapter, [{ ids: ok.ids, lossMask: new Uint8Array(4) }]],
      [
        'id out of vocabulary',
        adapter,
        [{ ids: Uint32Array.from([1, 2, ref.cfg.nVocab]), lossMask: Uint8Array.from([0, 1, 1]) }],
      ],
      [
        'short lora_B',
        {
          ...adapter,
          tensors: new Map(adapter.tensors).set(peftTensorName(1, 'q_proj', 'B'), new Float32Array(3)),
        },
        [ok],
      ],
      [
        'unexpected tensor',
        {
          ...adapter,
          tensors: new Map(adapter.tensors).set(peftTensorName(0, 'v_proj', 'A'), new Float32Array(512)),
        },
        [ok],
      ],
    ];
    for (const [what, a, b] of bad) {
      expect(() => ref.gradients(a, b), what).toThrow(TfjsReferenceError);
    }
  });
});
