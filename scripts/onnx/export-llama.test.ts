/**
 * The ONNX export of a tiny Q4_K llama GGUF, run by ONNX Runtime (onnxruntime-web's WebAssembly
 * CPU backend in Node), against Dure's WebGPU engine on the same file: a whole-prompt pass and a
 * prefill + one cached decode step (past_key_values → present) give the same last-position logits.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebGpuEngine } from '../../src/engine/engine.ts';
import { FileSource } from '../../src/node/file-source.ts';
import { relL2 } from '../../src/testing/gpu-harness.ts';
import { testGpu } from '../../src/testing/node-gpu.ts';
import { TEST_DIMS, testModelPath } from '../../src/testing/test-models.ts';
import { exportLlamaOnnx, OnnxExportError, quantizeQ4Blocks } from './export-llama.ts';

const PROMPT = [1, 17, 200, 33, 5, 99, 250, 7, 12, 64];
const { nLayer, nHeadKv, headDim } = TEST_DIMS;

let dir = '';
let gguf = '';
let dureLogits: Float32Array;

function i64(values: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]);
}

/** Runs `ids` after `past` cached positions; returns last-position logits and the present K/V. */
async function step(
  s: ort.InferenceSession,
  ids: number[],
  past: Record<string, ort.Tensor> | null,
): Promise<{ logits: Float32Array; present: Record<string, ort.Tensor> }> {
  const pastLen = past ? (past['past_key_values.0.key']?.dims[2] ?? 0) : 0;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: i64(ids),
    attention_mask: i64(Array.from({ length: pastLen + ids.length }, () => 1)),
    position_ids: i64(ids.map((_, i) => pastLen + i)),
  };
  for (let l = 0; l < nLayer; l++) {
    for (const kv of ['key', 'value']) {
      const name = `past_key_values.${l}.${kv}`;
      feeds[name] = past?.[name] ?? new ort.Tensor('float32', new Float32Array(0), [1, nHeadKv, 0, headDim]);
    }
  }
  const out = await s.run(feeds);
  const logits = out['logits'];
  if (!logits) throw new Error('no logits output');
  const [, seq, vocab] = logits.dims as [number, number, number];
  const present: Record<string, ort.Tensor> = {};
  for (let l = 0; l < nLayer; l++) {
    for (const kv of ['key', 'value']) {
      const t = out[`present.${l}.${kv}`];
      if (!t) throw new Error(`no present.${l}.${kv}`);
      present[`past_key_values.${l}.${kv}`] = t;
    }
  }
  return { logits: (logits.data as Float32Array).slice((seq - 1) * vocab, seq * vocab), present };
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if ((a[i] as number) > (a[best] as number)) best = i;
  return best;
}

beforeAll(async () => {
  ort.env.wasm.numThreads = 1;
  dir = await mkdtemp(join(tmpdir(), 'dure-onnx-'));
  gguf = await testModelPath({ arch: 'llama', quant: 'Q4_K' });
  const { device } = await testGpu();
  const engine = new WebGpuEngine(device, { contextLength: 64, maxBatch: 16 });
  try {
    await engine.loadSource(await FileSource.open(gguf));
    dureLogits = await engine.logits(PROMPT);
  } finally {
    await engine.dispose();
  }
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ONNX export of a llama GGUF (ONNX Runtime WASM vs Dure WebGPU engine)', () => {
  it('f32 weights: whole prompt and cached decode step agree with Dure (relL2 < 1e-4)', async () => {
    const path = join(dir, 'f32.onnx');
    await exportLlamaOnnx(gguf, path, { weights: 'f32', maxPositions: 64 });
    const s = await ort.InferenceSession.create(path, { executionProviders: ['wasm'] });
    try {
      const whole = await step(s, PROMPT, null);
      expect(relL2(whole.logits, dureLogits)).toBeLessThan(1e-4);
      // Prefill all but the last token, then decode it through past_key_values.
      const pre = await step(s, PROMPT.slice(0, -1), null);
      expect(pre.present['past_key_values.0.key']?.dims).toEqual([1, nHeadKv, PROMPT.length - 1, headDim]);
      const last = await step(s, PROMPT.slice(-1), pre.present);
      expect(relL2(last.logits, dureLogits)).toBeLessThan(1e-4);
    } finally {
      await s.release();
    }
  }, 60_000);

  it('q4 (MatMulNBits) weights: a close copy (relL2 < 0.25, same top token)', async () => {
    const path = join(dir, 'q4.onnx');
    await exportLlamaOnnx(gguf, path, { weights: 'q4', maxPositions: 64 });
    const s = await ort.InferenceSession.create(path, { executionProviders: ['wasm'] });
    try {
      const { logits } = await step(s, PROMPT, null);
      const err = relL2(logits, dureLogits);
      console.log(`q4 export relL2 vs Dure: ${err.toExponential(2)}`);
      expect(err).toBeLessThan(0.25);
      expect(argmax(logits)).toBe(argmax(dureLogits));
    } finally {
      await s.release();
    }
  }, 60_000);

  it('q4 blocks dequantize back to within half a step of the input', () => {
    const k = 64;
    const w = Float32Array.from({ length: 2 * k }, (_, i) => Math.sin(i * 1.7) * (i % 5));
    const { packed, scales, zeros } = quantizeQ4Blocks(w, 2, k);
    for (let r = 0; r < 2; r++) {
      for (let b = 0; b < 2; b++) {
        const scale = scales[r * 2 + b] as number;
        const zp = ((zeros[r] as number) >> (b * 4)) & 15;
        for (let i = 0; i < 32; i++) {
          const byte = packed[(r * 2 + b) * 16 + (i >> 1)] as number;
          const q = (byte >> ((i & 1) * 4)) & 15;
          expect(Math.abs(scale * (q - zp) - (w[r * k + b * 32 + i] as number))).toBeLessThanOrEqual(
            scale / 2 + 1e-6,
          );
        }
      }
    }
  });

  it('refuses architectures it does not cover with OnnxExportError', async () => {
    const gemma = await testModelPath({ arch: 'gemma2', quant: 'Q8_0' });
    await expect(exportLlamaOnnx(gemma, join(dir, 'gemma.onnx'), { weights: 'f32' })).rejects.toBeInstanceOf(
      OnnxExportError,
    );
  });
});
