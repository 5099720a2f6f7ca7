/**
 * The fused layer kernels (wgsl/qkv.wgsl: norm + q/k/v + q/k norms + RoPE + KV append;
 * wgsl/glu.wgsl: norm + gate/up + activation) against Dure's float64 CPU reference, on the paths
 * engine.test.ts does not take by default: no subgroups (one row per invocation), the f16 cache
 * with the fused append, and the dispatch plan itself.
 * Also: the same greedy ids fused and unfused over prefill chunks and decode steps, LoRA adapters
 * switching only the sections they touch back to separate kernels, and the default per adapter.
 */
import { describe, expect, it } from 'vitest';
import { FileSource } from '../../node/file-source.ts';
import { CpuReferenceModel } from '../../testing/cpu-forward.ts';
import { relL2 } from '../../testing/gpu-harness.ts';
import { testGpu } from '../../testing/node-gpu.ts';
import { testModelPath, type TestArch, type TestQuant } from '../../testing/test-models.ts';
import { WebGpuEngine, type EngineOptions } from '../engine.ts';
import { isCpuEmulatedAdapter } from '../gpu/device.ts';
import { readGguf } from '../gguf/reader.ts';
import { randomAdapter } from '../../testing/random-adapter.ts';
import { greedyIds } from '../../testing/greedy.ts';

const PROMPT = [1, 17, 200, 33, 5, 99, 250, 7, 12, 64, 3];

async function load(arch: TestArch, quant: TestQuant, opts: EngineOptions = {}) {
  const { device } = await testGpu();
  // maxBatch 4 < prompt: prefill runs in tiles of 4 (and a partial one), then one-token steps.
  const engine = new WebGpuEngine(device, { contextLength: 64, maxBatch: 4, fuseKernels: true, ...opts });
  await engine.loadSource(await FileSource.open(await testModelPath({ arch, quant })));
  return engine;
}

async function reference(arch: TestArch, quant: TestQuant) {
  const src = await FileSource.open(await testModelPath({ arch, quant }));
  const ref = await CpuReferenceModel.load(await readGguf(src));
  await src.close();
  return ref;
}

/** Dispatches of one layer: the body minus embedding, final norm, output projection and argmax. */
function perLayer(engine: WebGpuEngine): number {
  const { forward, cfg } = engine.model;
  return (forward.dispatchCount - 4) / cfg.nLayer;
}

describe('fused layer kernels', () => {
  // [arch, type, dispatches per layer fused, unfused]; decode attention is two (split-KV + combine)
  const cases: [TestArch, TestQuant, number, number][] = [
    ['llama', 'Q4_K', 6, 13],
    ['qwen2', 'Q8_0', 6, 13], // biases through the layer-vectors binding; Q8_0 scales repacked (aux)
    ['qwen3', 'Q6_K', 6, 15], // per-head q/k norms inside the fused kernel (two norms unfused)
    ['gemma2', 'Q4_0', 8, 15], // + the two sandwich norms; GELU; NEOX RoPE
    ['exaone', 'F16', 6, 13],
  ];
  for (const [arch, quant, fusedPerLayer, unfusedPerLayer] of cases) {
    it(`${arch} ${quant}: ${fusedPerLayer} dispatches per layer, without subgroups too, within 1e-4 of float64`, async () => {
      const ref = await reference(arch, quant);
      const want = ref.logits(PROMPT);
      for (const subgroups of [true, false]) {
        const engine = await load(arch, quant, { subgroups });
        try {
          expect(perLayer(engine)).toBe(fusedPerLayer);
          expect(relL2(await engine.logits(PROMPT), want)).toBeLessThan(1e-4);
          // 5 tokens: a tile of 4, then a one-token step (the decode path of the fused kernels).
          const five = PROMPT.slice(0, 5);
          expect(relL2(await engine.logits(five), ref.logits(five))).toBeLessThan(1e-4);
        } finally {
          await engine.dispose();
        }
      }
      const unfused = await load(arch, quant, { fuseKernels: false });
      try {
        expect(perLayer(unfused)).toBe(unfusedPerLayer);
      } finally {
        await unfused.dispose();
      }
    });
  }

  it('f16 KV cache written by the fused append: within 2e-3 of float64, for NORM and NEOX RoPE', async () => {
    for (const arch of ['llama', 'qwen3'] as const) {
      const ref = await reference(arch, 'F32');
      for (const subgroups of [true, false]) {
        const engine = await load(arch, 'F32', { kvCacheType: 'f16', subgroups });
        try {
          expect(relL2(await engine.logits(PROMPT), ref.logits(PROMPT))).toBeLessThan(2e-3);
        } finally {
          await engine.dispose();
        }
      }
    }
  });

  it('greedy decoding gives the same ids fused and unfused (prefill tiles, then decode steps)', async () => {
    for (const [arch, quant] of [
      ['qwen2', 'Q4_K'],
      ['gemma2', 'F16'],
    ] as const) {
      const fused = await load(arch, quant);
      const unfused = await load(arch, quant, { fuseKernels: false });
      try {
        const a = await greedyIds(fused, PROMPT, 12);
        const b = await greedyIds(unfused, PROMPT, 12);
        expect(a).toHaveLength(12);
        expect(a).toEqual(b);
      } finally {
        await fused.dispose();
        await unfused.dispose();
      }
    }
  });

  it('defaults to the separate kernels on a CPU-emulated adapter (this one) and fused elsewhere', async () => {
    const { device } = await testGpu();
    expect(isCpuEmulatedAdapter(device)).toBe(true);
    const engine = await load('llama', 'F32', { fuseKernels: undefined });
    try {
      expect(perLayer(engine)).toBe(13);
    } finally {
      await engine.dispose();
    }
    const gpuLike = {
      adapterInfo: { vendor: 'nvidia', architecture: 'ada', device: '', description: 'RTX 4060' },
    };
    expect(isCpuEmulatedAdapter(gpuLike as unknown as GPUDevice)).toBe(false);
  });

  it('a LoRA adapter unfuses only the sections it adds to, and the result matches float64', async () => {
    const engine = await load('qwen3', 'Q8_0');
    const ref = await reference('qwen3', 'Q8_0');
    try {
      const cfg = engine.model.cfg;
      // o_proj and down_proj terms go after their matmuls: both fused sections stay fused.
      const outer = randomAdapter(cfg, {
        rank: 4,
        alpha: 8,
        targetModules: ['o_proj', 'down_proj'],
        seed: 3,
        bStd: 0.1,
      });
      await engine.setAdapters([{ name: 'outer', lora: outer }]);
      ref.setAdapters([{ lora: outer, scale: 1 }]);
      expect(perLayer(engine)).toBe(6 + 2 * 2);
      expect(relL2(await engine.logits(PROMPT), ref.logits(PROMPT))).toBeLessThan(1e-4);

      // v_proj in layer 0 only: that layer's attention input runs as separate kernels (its norm,
      // three matmuls, q/k norms and RoPE in place of one), plus the term's two dispatches.
      const inner = randomAdapter(cfg, {
        rank: 4,
        alpha: 8,
        targetModules: ['v_proj'],
        layers: [0],
        seed: 4,
        bStd: 0.1,
      });
      await engine.setAdapters([{ name: 'inner', lora: inner }]);
      ref.setAdapters([{ lora: inner, scale: 1 }]);
      const unfusedAttnIn = 1 + 3 + 2 + 1; // norm, q/k/v matmuls, q/k head norms, RoPE + append
      expect(engine.model.forward.dispatchCount).toBe(4 + 6 * cfg.nLayer - 1 + unfusedAttnIn + 2);
      const err = relL2(await engine.logits(PROMPT), ref.logits(PROMPT));
      expect(err).toBeLessThan(1e-4);

      await engine.setAdapters([]);
      expect(perLayer(engine)).toBe(6);
    } finally {
      await engine.dispose();
    }
  });
});
