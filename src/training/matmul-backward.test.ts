/**
 * The LoRA trainer's backward product through a frozen weight, dx = dyᵀ·W, for every weight type
 * with a GPU row in the quant registry: GPU result against a float64 product of the CPU dequantized
 * weight. Small shapes (one K-quant super-block per row, rows not a multiple of the tile).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dequantize } from '../engine/gguf/quant/index.ts';
import { GgmlType } from '../engine/gguf/types.ts';
import { uploadWeight } from '../engine/gpu/gpu-weight.ts';
import { KernelLibrary } from '../engine/gpu/kernel-library.ts';
import { GPU_WEIGHT_TYPES } from '../engine/gpu/weight-layout.ts';
import { GpuHarness, randn, relL2, rng } from '../testing/gpu-harness.ts';
import { quantize } from '../tools/gguf/quantize.ts';
import { TrainOps } from './train-ops.ts';

describe('matmul backward through a frozen weight', () => {
  let h: GpuHarness;
  let train: TrainOps;
  beforeAll(async () => {
    h = await GpuHarness.create({ subgroups: false });
    train = new TrainOps(KernelLibrary.for(h.device), h.arena, h.stepBuffer, false);
  });
  afterAll(() => h.destroy());

  it.each(GPU_WEIGHT_TYPES.map((t) => [GgmlType[t], t] as const))('%s', async (_name, type) => {
    const rows = 37;
    const k = 256;
    const nTok = 3;
    const bytes = quantize(type, randn(rows * k, rng(5 + type), 0.5));
    const w = dequantize(type, bytes, rows * k);
    const dy = randn(nTok * rows, rng(9));
    const weight = uploadWeight(h.device, 'w', type, bytes, rows, k);
    const dx = h.storage(nTok * k * 4);
    h.run(await train.matmulBackward({ weight, dy: h.storage(dy), dx, accumulate: false }), {
      nTokens: nTok,
      pos: 0,
    });
    const want = new Float64Array(nTok * k);
    for (let t = 0; t < nTok; t++)
      for (let o = 0; o < rows; o++) {
        const g = dy[t * rows + o] as number;
        for (let i = 0; i < k; i++) want[t * k + i]! += g * (w[o * k + i] as number);
      }
    expect(relL2(await h.readF32(dx, nTok * k), want)).toBeLessThan(1e-5);
    weight.parts.forEach((p) => p.buffer.destroy());
  });
});
