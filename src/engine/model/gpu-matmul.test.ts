/**
 * The GPU-shaped weight products (wgsl/gemv.wgsl for one token, wgsl/matmul-tiled.wgsl for 8+)
 * through whole forward passes. On CPU emulators the engine keeps the register-tile kernel by
 * default (their compile time grows with workgroup memory), so without this file the kernels a
 * real GPU runs were checked only one by one (kernels.test.ts). Every product here runs them
 * with the default tile and staging sizes (the fused q/k/v and gate/up kernels, where on, serve
 * only decode and batches below the GEMM's): prefill logits against Dure's float64 reference, and greedy decoding (GEMV steps) against
 * the register-tile engine, whose agreement with llama.cpp agreement-llamacpp.test.ts proves.
 */
import { describe, expect, it } from 'vitest';
import { FileSource } from '../../node/file-source.ts';
import { CpuReferenceModel } from '../../testing/cpu-forward.ts';
import { relL2 } from '../../testing/gpu-harness.ts';
import { testTrainingGpu } from '../../testing/node-gpu.ts';
import { testModelPath, type TestArch, type TestQuant } from '../../testing/test-models.ts';
import { WebGpuEngine, type EngineOptions } from '../engine.ts';
import { readGguf } from '../gguf/reader.ts';
import { greedyIds } from '../../testing/greedy.ts';

// 11 tokens: one prefill step of the tiled GEMM (maxBatch 16).
const PROMPT = [1, 17, 200, 33, 5, 99, 250, 7, 12, 64, 3];

async function load(arch: TestArch, quant: TestQuant, opts: EngineOptions) {
  // Lavapipe: its LLVM compiles these kernels' workgroup-memory tiles in about half SwiftShader's time.
  const { device } = await testTrainingGpu();
  const engine = new WebGpuEngine(device, { contextLength: 64, maxBatch: 16, fuseKernels: false, ...opts });
  await engine.loadSource(await FileSource.open(await testModelPath({ arch, quant })));
  return engine;
}

describe('GPU-shaped weight products in the whole forward pass', () => {
  // Q4_K and Q6_K: a Q4_K_M file's types, read with 16-byte loads; Q5_1: a type read a word at a
  // time. The Q4_K model runs with the fused layer kernels (the default on a GPU), which serve
  // batches below GEMM_MIN_TOKENS only: prefill takes the separate kernels and so the tiled GEMM.
  const cases: [TestArch, TestQuant, boolean][] = [
    ['llama', 'Q4_K', true],
    ['qwen3', 'Q6_K', false],
    ['qwen2', 'Q5_1', false],
  ];
  for (const [arch, quant, fused] of cases) {
    it(`${arch} ${quant}${fused ? ' fused' : ''}: prefill within 1e-4 of float64, and the register-tile engine's greedy ids`, async () => {
      const src = await FileSource.open(await testModelPath({ arch, quant }));
      const ref = await CpuReferenceModel.load(await readGguf(src));
      await src.close();
      const gpu = await load(arch, quant, { gpuMatmul: true, fuseKernels: fused });
      const tile = await load(arch, quant, { gpuMatmul: false });
      try {
        expect(relL2(await gpu.logits(PROMPT), ref.logits(PROMPT))).toBeLessThan(1e-4);
        const ids = await greedyIds(gpu, PROMPT, 10);
        expect(ids).toHaveLength(10);
        expect(ids).toEqual(await greedyIds(tile, PROMPT, 10));
        const kernels = async (n: number) => [
          ...(await gpu.model.forward.profileStep(Uint32Array.from(PROMPT.slice(0, n)), 0)).keys(),
        ];
        const prefill = await kernels(PROMPT.length);
        expect(prefill.some((k) => k.startsWith('matmulTiled:'))).toBe(true);
        expect(prefill.some((k) => /^(glu|qkv|gemv|matmul):/.test(k))).toBe(false);
        // llama, per decode step and layer: 10 dispatches with fused gate/up (6 fully fused, 13 separate).
        const { forward, cfg } = gpu.model;
        if (fused) expect((forward.dispatchCount - 4) / cfg.nLayer).toBe(10);
        const decode = await kernels(1);
        expect(decode.some((k) => k.startsWith('gemv:'))).toBe(true);
        // Fused gate/up where asked; q/k/v always separate here (one workgroup per head is too few).
        expect(decode.some((k) => k.startsWith('glu:'))).toBe(fused);
        expect(decode.some((k) => k.startsWith('qkv:'))).toBe(false);
      } finally {
        await gpu.dispose();
        await tile.dispose();
      }
    });
  }
});
