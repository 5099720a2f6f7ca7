/**
 * LoRA at inference in the WebGPU engine: logits with random non-zero adapters against Dure's
 * float64 CPU reference (which applies each adapter separately, unstacked), hot swapping without a
 * reload (base restored exactly, KV prefix cache invalidated), and validation of bad adapters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../node/file-source.ts';
import { CpuReferenceModel } from '../../testing/cpu-forward.ts';
import { relL2 } from '../../testing/gpu-harness.ts';
import { testGpu } from '../../testing/node-gpu.ts';
import { testModelPath, type TestArch, type TestQuant } from '../../testing/test-models.ts';
import type { LoraTensors } from '../../training/api.ts';
import { WebGpuEngine } from '../engine.ts';
import { readGguf } from '../gguf/reader.ts';
import { LORA_MODULES, type LoraModule } from './adapter.ts';
import { LoraAdapterError } from './errors.ts';
import { randomAdapter } from '../../testing/random-adapter.ts';

const PROMPT = [1, 17, 200, 33, 5, 99, 250, 7, 12, 64];
const ALL = Object.keys(LORA_MODULES) as LoraModule[];

async function setup(arch: TestArch, quant: TestQuant) {
  const path = await testModelPath({ arch, quant });
  const src = await FileSource.open(path);
  const ref = await CpuReferenceModel.load(await readGguf(src));
  await src.close();
  const { device } = await testGpu();
  // maxBatch 4 < prompt length: prefill runs in chunks, then single-token steps.
  const engine = new WebGpuEngine(device, { contextLength: 64, maxBatch: 4 });
  await engine.loadSource(await FileSource.open(path));
  return { engine, ref };
}

describe('engine with LoRA vs the float64 CPU reference', () => {
  const table: string[] = [];
  afterAll(() => console.log(['arch × type: relL2 with adapter (change vs base)', ...table].join('\n')));
  const cases: [TestArch, TestQuant][] = [
    ['llama', 'F32'],
    ['qwen2', 'F32'],
    ['llama', 'Q8_0'],
    ['qwen2', 'Q4_K'],
    // q/k norms after the adapted projections; sandwich norms after o/down; exaone's own names.
    ['qwen3', 'F32'],
    ['gemma2', 'Q8_0'],
    ['exaone', 'Q4_K_M'],
  ];
  for (const [arch, quant] of cases) {
    it(`${arch} ${quant}: all seven modules, rank 8`, async () => {
      const { engine, ref } = await setup(arch, quant);
      try {
        const cfg = engine.model.cfg;
        const base = await engine.logits(PROMPT);
        const lora = randomAdapter(cfg, { rank: 8, alpha: 16, targetModules: ALL, seed: 7, bStd: 0.1 });
        await engine.setAdapters([{ name: 'a', lora, scale: 0.75 }]);
        ref.setAdapters([{ lora, scale: 0.75 }]);
        const got = await engine.logits(PROMPT);
        const want = ref.logits(PROMPT);
        const err = relL2(got, want);
        const change = relL2(got, base);
        table.push(`${arch.padEnd(6)} ${quant.padEnd(5)} ${err.toExponential(2)} (${change.toFixed(2)})`);
        // The adapter must matter, or agreement proves nothing.
        expect(change).toBeGreaterThan(0.1);
        expect(err).toBeLessThan(1e-4);
      } finally {
        await engine.dispose();
      }
    });
  }

  it('two stacked adapters with different ranks, targets, layers and scales', async () => {
    const { engine, ref } = await setup('qwen2', 'F32');
    try {
      const cfg = engine.model.cfg;
      const a = randomAdapter(cfg, {
        rank: 5,
        alpha: 10,
        targetModules: ['q_proj', 'v_proj', 'down_proj'],
        seed: 1,
        bStd: 0.08,
      });
      const b = randomAdapter(cfg, {
        rank: 3,
        alpha: 3,
        targetModules: ['v_proj', 'o_proj', 'up_proj'],
        seed: 2,
        bStd: 0.08,
        layers: [1],
      });
      await engine.setAdapters([
        { name: 'a', lora: a, scale: 1 },
        { name: 'b', lora: b, scale: -1.5 },
      ]);
      ref.setAdapters([{ lora: a }, { lora: b, scale: -1.5 }]);
      expect(relL2(await engine.logits(PROMPT), ref.logits(PROMPT))).toBeLessThan(1e-4);
      expect(engine.adapters).toEqual(['a', 'b']);
    } finally {
      await engine.dispose();
    }
  });
});

describe('hot swap without reloading the base', () => {
  let engine: WebGpuEngine;
  let ref: CpuReferenceModel;
  let first: LoraTensors;
  let second: LoraTensors;
  beforeAll(async () => {
    ({ engine, ref } = await setup('llama', 'Q8_0'));
    const cfg = engine.model.cfg;
    first = randomAdapter(cfg, { rank: 8, alpha: 16, targetModules: ALL, seed: 11, bStd: 0.05 });
    second = randomAdapter(cfg, {
      rank: 4,
      alpha: 8,
      targetModules: ['q_proj', 'k_proj', 'gate_proj'],
      seed: 12,
      bStd: 0.1,
    });
  });
  afterAll(() => engine.dispose());

  it('set → logits change; [] → base within 1e-6; second adapter → matches the reference', async () => {
    const weights = engine.model.weights;
    const base = await engine.logits(PROMPT);
    await engine.setAdapters([{ name: 'first', lora: first }]);
    // Same prompt again: a stale KV prefix cache would reuse base keys/values here.
    const withFirst = await engine.logits(PROMPT);
    expect(relL2(withFirst, base)).toBeGreaterThan(0.1);
    ref.setAdapters([{ lora: first }]);
    expect(relL2(withFirst, ref.logits(PROMPT))).toBeLessThan(1e-4);

    await engine.setAdapters([]);
    const again = await engine.logits(PROMPT);
    expect(relL2(again, base)).toBeLessThan(1e-6);
    expect(engine.adapters).toEqual([]);

    await engine.setAdapters([{ name: 'second', lora: second }]);
    const withSecond = await engine.logits(PROMPT);
    ref.setAdapters([{ lora: second }]);
    expect(relL2(withSecond, ref.logits(PROMPT))).toBeLessThan(1e-4);
    expect(relL2(withSecond, withFirst)).toBeGreaterThan(0.1);
    // The base weights were never reloaded.
    expect(engine.model.weights).toBe(weights);
  });

  it('greedy generation uses the adapter at every decode step', async () => {
    await engine.setAdapters([{ name: 'first', lora: first }]);
    const g = engine.generate({ promptIds: PROMPT, maxTokens: 6, greedy: true });
    let res;
    for (;;) {
      const r = await g.next();
      if (r.done) {
        res = r.value;
        break;
      }
    }
    ref.setAdapters([{ lora: first }]);
    const seq = [...PROMPT];
    for (const id of res.ids) {
      const l = ref.logits(seq);
      let best = 0;
      for (let i = 1; i < l.length; i++) if ((l[i] as number) > (l[best] as number)) best = i;
      expect(id).toBe(best);
      seq.push(id);
    }
    expect(res.ids.length).toBe(6);
  });

  it('rejects bad adapters with LoraAdapterError and keeps the active ones', async () => {
    await engine.setAdapters([{ name: 'first', lora: first }]);
    const before = await engine.logits(PROMPT);
    const cfg = engine.model.cfg;
    const bad = (mut: (l: LoraTensors) => void): LoraTensors => {
      const l = randomAdapter(cfg, { rank: 2, alpha: 2, targetModules: ['q_proj'], seed: 3, bStd: 0.1 });
      mut(l);
      return l;
    };
    const qa = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight';
    const qb = 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight';
    const cases: [string, LoraTensors, RegExp][] = [
      ['wrong shape', bad((l) => l.tensors.set(qa, new Float32Array(5))), /values; the model needs/],
      ['NaN', bad((l) => (l.tensors.get(qb)![3] = NaN)), /NaN or infinite/],
      ['missing B', bad((l) => l.tensors.delete(qb)), /has lora_A but no lora_B/],
      ['unknown name', bad((l) => l.tensors.set('lm_head.lora_A.weight', new Float32Array(2))), /not a PEFT/],
      [
        'layer out of range',
        bad((l) => {
          l.tensors.set(qa.replace('layers.0', 'layers.9'), l.tensors.get(qa)!);
        }),
        /layer 9; the model has 2/,
      ],
      ['untargeted module', bad((l) => (l.targetModules = ['k_proj'])), /not in targetModules/],
      ['alpha 0', bad((l) => (l.alpha = 0)), /lora_alpha/],
      ['rank 0', bad((l) => (l.rank = 0)), /rank 0/],
    ];
    for (const [what, lora, msg] of cases) {
      await expect(engine.setAdapters([{ name: what, lora }]), what).rejects.toThrow(LoraAdapterError);
      await expect(engine.setAdapters([{ name: what, lora }]), what).rejects.toThrow(msg);
    }
    await expect(
      engine.setAdapters([
        { name: 'x', lora: first },
        { name: 'x', lora: second },
      ]),
    ).rejects.toThrow(/two adapters are named/);
    await expect(engine.setAdapters([{ name: 'first', lora: first, scale: Infinity }])).rejects.toThrow(
      LoraAdapterError,
    );
    expect(engine.adapters).toEqual(['first']);
    expect(relL2(await engine.logits(PROMPT), before)).toBeLessThan(1e-6);
  });
});
