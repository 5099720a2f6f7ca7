/**
 * The shader-f16 path on an adapter that has it: Mesa's lavapipe (the SwiftShader of the other
 * tests has no f16). Prefill products in f16 (wgsl/matvec.wgsl dot4) against a float64 reference,
 * and the engine with f16 on and fused kernels against Dure's float64 CPU model. Decode steps
 * stay f32, so one-token products must still agree to f32 precision.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../node/file-source.ts';
import { CpuReferenceModel } from '../../testing/cpu-forward.ts';
import { GpuHarness, randn, relL2, rng } from '../../testing/gpu-harness.ts';
import { testF16Gpu } from '../../testing/node-gpu.ts';
import { buildTestModel, testModelPath, tokenizerMetadata } from '../../testing/test-models.ts';
import { writeGguf } from '../../tools/gguf/writer.ts';
import { MemorySource } from '../gguf/sources.ts';
import { WebGpuEngine } from '../engine.ts';
import { dequantize } from '../gguf/quant/index.ts';
import { quantize } from '../../tools/gguf/quantize.ts';
import { readGguf } from '../gguf/reader.ts';
import { GgmlType } from '../gguf/types.ts';
import { uploadF32, uploadWeight, uploadWeightGroup } from './gpu-weight.ts';

// dot4 (the one place the f16 variant changes) is shared by every type; these three cover a float
// type, a scaled-integer type and the K-quant with a min term. lavapipe compiles with LLVM, seconds
// per pipeline on a cold cache, so the f16 checks stay few (every f32 variant runs on SwiftShader).
const TYPES = [GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_K];

function matmulRef(w: Float32Array, x: Float32Array, rows: number, k: number, nTok: number): Float64Array {
  const out = new Float64Array(nTok * rows);
  for (let t = 0; t < nTok; t++)
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += (w[r * k + i] as number) * (x[t * k + i] as number);
      out[t * rows + r] = s;
    }
  return out;
}

describe('shader-f16 on lavapipe', () => {
  let h16: GpuHarness;
  beforeAll(async () => {
    const { device, description } = await testF16Gpu();
    expect(device.features.has('shader-f16')).toBe(true);
    expect(description).toMatch(/llvmpipe/);
    h16 = await GpuHarness.create({ subgroups: true, f16: true });
  });
  afterAll(() => h16.destroy());

  const table: string[] = [];
  afterAll(() =>
    console.log(
      ['f16 build on lavapipe: relL2 vs float64, prefill (5 tokens) and decode', ...table].join('\n'),
    ),
  );
  for (const type of TYPES) {
    it(`${GgmlType[type]}: prefill products in f16 within 2e-3, decode unchanged`, async () => {
      const rows = 67;
      const k = 512;
      const nTok = 5;
      const values = randn(rows * k, rng(type + 11), 0.5);
      const bytes = quantize(type, values);
      const deq = dequantize(type, bytes, rows * k);
      const x = randn(nTok * k, rng(3));
      const want = matmulRef(deq, x, rows, k, nTok);
      const h = h16;
      const weight = uploadWeight(h.device, 'w', type, bytes, rows, k);
      const out = h.storage(nTok * rows * 4);
      h.run(await h.ops.matmul({ weight, x: h.storage(x), out }), { nTokens: nTok, pos: 0 });
      const p16 = relL2(await h.readF32(out, nTok * rows), want);
      // One token: the decode path, f32 even in the f16 build.
      const one = h.storage(rows * 4);
      h.run(await h.ops.matmul({ weight, x: h.storage(x.subarray(0, k)), out: one }), { nTokens: 1, pos: 0 });
      const d16 = relL2(await h.readF32(one, rows), want.subarray(0, rows));
      weight.parts.forEach((p) => p.buffer.destroy());
      table.push(
        `${GgmlType[type].padEnd(5)} prefill ${p16.toExponential(1)}, decode ${d16.toExponential(1)}`,
      );
      expect(d16).toBeLessThan(1e-5);
      expect(p16).toBeLessThan(2e-3);
      // The f16 build really rounds (else the variant would not be in use).
      expect(p16).toBeGreaterThan(1e-5);
    });
  }

  it('Q4_K: the tiled GEMM (production 64 × 64 tile) rounds prefill to f16 within 2e-3', async () => {
    // 67 rows = 64 + 3 and 70 tokens = 64 + 6: ragged tiles in both dimensions.
    const rows = 67;
    const k = 256;
    const nTok = 70;
    const type = GgmlType.Q4_K;
    const bytes = quantize(type, randn(rows * k, rng(5), 0.5));
    const want = matmulRef(dequantize(type, bytes, rows * k), randn(nTok * k, rng(6)), rows, k, nTok);
    const h = await GpuHarness.create({ subgroups: true, f16: true, gpuMatmul: true });
    const weight = uploadWeight(h.device, 'w', type, bytes, rows, k);
    const out = h.storage(nTok * rows * 4);
    h.run(await h.ops.matmul({ weight, x: h.storage(randn(nTok * k, rng(6))), out }), {
      nTokens: nTok,
      pos: 0,
    });
    const got = relL2(await h.readF32(out, nTok * rows), want);
    weight.parts.forEach((p) => p.buffer.destroy());
    h.destroy();
    table.push(`Q4_K  tiled GEMM prefill (70 tokens) ${got.toExponential(1)}`);
    expect(got).toBeLessThan(2e-3);
    expect(got).toBeGreaterThan(1e-5);
  });

  it('llama Q4_K: the engine with fused kernels and f16 prefill within 3e-3 of float64, same greedy ids', async () => {
    const { device } = await testF16Gpu();
    const path = await testModelPath({ arch: 'llama', quant: 'Q4_K' });
    const src = await FileSource.open(path);
    const ref = await CpuReferenceModel.load(await readGguf(src));
    await src.close();
    const prompt = [1, 17, 200, 33, 5, 99, 250, 7, 12, 64, 3];
    // The float64 model's greedy continuation.
    const want: number[] = [];
    for (let i = 0; i < 6; i++) {
      const l = ref.logits([...prompt, ...want]);
      want.push(l.indexOf(Math.max(...l)));
    }
    // Fused and f16, as on a GPU (lavapipe counts as CPU-emulated, so both are asked for).
    const engine = new WebGpuEngine(device, {
      contextLength: 64,
      maxBatch: 8,
      fuseKernels: true,
      shaderF16: true,
    });
    await engine.loadSource(await FileSource.open(path));
    try {
      expect(engine.model.forward.dispatchCount).toBe(4 + 6 * engine.model.cfg.nLayer);
      // An adapter with shader-f16 gets the f16 KV cache by default (half of attention's reads).
      expect(engine.model.forward.opts.kvF16).toBe(true);
      expect(relL2(await engine.logits(prompt), ref.logits(prompt))).toBeLessThan(3e-3);
      const g = engine.generate({ promptIds: prompt, maxTokens: 6, greedy: true });
      let r = await g.next();
      while (!r.done) r = await g.next();
      expect(r.value.ids).toEqual(want);
    } finally {
      await engine.dispose();
    }
  }, 180_000);

  it('a whole model whose residual stream passes f16 range (|x| > 65504): fused f16 prefill within 2e-3 of float64', async () => {
    // The llama Q4_K test model with its embedding and both block output projections scaled by
    // 3e4: the residual stream is the same model's times 3e4 (~3e4 per element, up to ~1e5, as
    // Gemma-class models carry) while every normalised input, and so the output, stays as it was.
    // A kernel that rounds the raw stream to f16 gives inf/NaN; the layers still move the logits.
    const SCALE = 3e4;
    const built = buildTestModel({ arch: 'llama', quant: 'Q4_K' }, await tokenizerMetadata('corpus-bpe'));
    expect(built.tensors.some((t) => t.name === 'output.weight')).toBe(true); // not tied to the embedding
    const scaled = /^(token_embd|blk\.\d+\.(attn_output|ffn_down))\.weight$/;
    const tensors = built.tensors.map((t) => {
      if (!scaled.test(t.name)) return t;
      const n = t.dims.reduce((a, b) => a * b, 1);
      const v = dequantize(t.type, t.data, n).map((x) => x * SCALE);
      return { ...t, data: quantize(t.type, v) };
    });
    expect(tensors.filter((t) => scaled.test(t.name))).toHaveLength(1 + 2 * 2);
    const bytes = writeGguf({ metadata: built.metadata, tensors });
    const ref = await CpuReferenceModel.load(await readGguf(new MemorySource(bytes)));
    const prompt = [1, 17, 200, 33, 5, 99, 250, 7, 12, 64, 3];
    const embd = tensors.find((t) => t.name === 'token_embd.weight')!;
    const rows = dequantize(embd.type, embd.data, embd.dims[0]! * embd.dims[1]!);
    const d = embd.dims[0]!;
    let peak = 0;
    for (const id of prompt) for (let i = 0; i < d; i++) peak = Math.max(peak, Math.abs(rows[id * d + i]!));
    expect(peak).toBeGreaterThan(65504);

    const { device } = await testF16Gpu();
    const engine = new WebGpuEngine(device, {
      contextLength: 64,
      maxBatch: 8,
      fuseKernels: true,
      shaderF16: true,
    });
    await engine.loadSource(new MemorySource(bytes));
    try {
      expect(engine.model.forward.opts.f16).toBe(true);
      const got = await engine.logits(prompt);
      expect(got.every(Number.isFinite)).toBe(true);
      const err = relL2(got, ref.logits(prompt));
      table.push(`llama Q4_K, residual ×${SCALE} (past 65504): model prefill ${err.toExponential(1)}`);
      expect(err).toBeLessThan(2e-3);
      // The layers count (their outputs were scaled with the stream), so f16 rounding shows.
      expect(err).toBeGreaterThan(1e-5);
    } finally {
      await engine.dispose();
    }
  }, 180_000);

  /**
   * A residual stream at ~3e4 (|x| up to ~1e5, past f16's 65504), as Gemma-class models carry:
   * the fused gate/up kernel reads it raw and normalises inside (wgsl/matvec.wgsl NORM), so it
   * must normalise before rounding to f16 (it rounded the raw values: inf); a projection of the
   * raw stream (layers without a pre-norm) stays f32.
   */
  describe('a residual stream above f16 range', () => {
    const HOT = 3e4;
    const k = 256;
    const rows = 40;
    const nTok = 5;
    const x = randn(nTok * k, rng(8), HOT);
    const g = Float32Array.from(randn(k, rng(9), 0.1), (v) => v + 1);

    it('fused norm + gate/up in f16 prefill within 2e-3 of float64', async () => {
      const h = h16;
      expect(Math.max(...x.map(Math.abs))).toBeGreaterThan(65504);
      const wg = randn(rows * k, rng(10), 0.5);
      const wu = randn(rows * k, rng(11), 0.5);
      const [wGate, wUp] = uploadWeightGroup(h.device, 'gu', [
        { name: 'g', type: GgmlType.F32, bytes: quantize(GgmlType.F32, wg), rows, k },
        { name: 'u', type: GgmlType.F32, bytes: quantize(GgmlType.F32, wu), rows, k },
      ])!;
      const out = h.storage(nTok * rows * 4);
      const glu = await h.ops.glu({
        wGate: wGate!,
        wUp: wUp!,
        x: h.storage(x),
        normWeight: uploadF32(h.device, 'g', g),
        eps: 1e-6,
        out,
        gelu: false,
      });
      h.run([glu!], { nTokens: nTok, pos: 0 });
      const want = new Float64Array(nTok * rows);
      for (let t = 0; t < nTok; t++) {
        let ss = 0;
        for (let i = 0; i < k; i++) ss += (x[t * k + i] as number) ** 2;
        const inv = 1 / Math.sqrt(ss / k + 1e-6);
        const xn = Array.from({ length: k }, (_, i) => (x[t * k + i] as number) * inv * (g[i] as number));
        for (let r = 0; r < rows; r++) {
          let a = 0;
          let b = 0;
          for (let i = 0; i < k; i++) {
            a += (wg[r * k + i] as number) * (xn[i] as number);
            b += (wu[r * k + i] as number) * (xn[i] as number);
          }
          want[t * rows + r] = (a / (1 + Math.exp(-a))) * b;
        }
      }
      const err = relL2(await h.readF32(out, nTok * rows), want);
      table.push(`glu, residual ×${HOT}: prefill ${err.toExponential(1)}`);
      expect(err).toBeLessThan(2e-3);
    });

    it('a projection of the raw residual asked to stay f32 does, in the f16 build', async () => {
      const h = h16;
      const w = randn(rows * k, rng(12), 0.5);
      const weight = uploadWeight(h.device, 'w', GgmlType.F32, quantize(GgmlType.F32, w), rows, k);
      const out = h.storage(nTok * rows * 4);
      h.run(await h.ops.matmul({ weight, x: h.storage(x), out, f16: false }), { nTokens: nTok, pos: 0 });
      expect(relL2(await h.readF32(out, nTok * rows), matmulRef(w, x, rows, k, nTok))).toBeLessThan(1e-5);
    });
  });
});
