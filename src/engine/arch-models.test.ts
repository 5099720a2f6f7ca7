/**
 * YaRN RoPE scaling, run by the engine on a tiny generated GGUF: against Dure's float64 CPU
 * reference (≤ 1e-4 relative L2, f32 KV) and against llama.cpp (≤ 2e-3 for F32 weights, greedy identical where llama.cpp's margin
 * exceeds 0.1). gemma3/exaone4 run in engine.test.ts and agreement-llamacpp.test.ts (TEST_ARCHS).
 * A file asking for longrope is refused with a typed error naming the type.
 */
import { describe, expect, it } from 'vitest';
import { FileSource } from '../node/file-source.ts';
import { CpuReferenceModel } from '../testing/cpu-forward.ts';
import { relL2 } from '../testing/gpu-harness.ts';
import { loadReferenceModel, referenceGreedy, referenceLogits } from '../testing/llama-cpp.ts';
import { testGpu } from '../testing/node-gpu.ts';
import { testModelPath, type TestModelSpec } from '../testing/test-models.ts';
import { readGguf } from './gguf/reader.ts';
import { modelConfig, UnsupportedRopeScalingError } from './model/config.ts';
import { WebGpuEngine } from './engine.ts';

const PROMPT = [1, 17, 200, 33, 5, 99, 250, 7, 12, 64];

async function engineFor(spec: TestModelSpec) {
  const { device } = await testGpu();
  const engine = new WebGpuEngine(device, { contextLength: 128, maxBatch: 8, fuseKernels: true });
  await engine.loadSource(await FileSource.open(await testModelPath(spec)));
  return engine;
}

async function cpuReference(spec: TestModelSpec) {
  const src = await FileSource.open(await testModelPath(spec));
  try {
    return await CpuReferenceModel.load(await readGguf(src));
  } finally {
    await src.close();
  }
}

describe('YaRN against the float64 CPU reference', () => {
  // gemma3 and exaone4 (F32, Q4_K_M) are in engine.test.ts's matrix (TEST_ARCHS); YaRN is here.
  const cases: TestModelSpec[] = [{ arch: 'qwen2', quant: 'F32', ropeScaling: 'yarn' }];
  for (const spec of cases) {
    it(`${spec.arch} ${spec.quant}${spec.ropeScaling ? ` ${spec.ropeScaling}` : ''}`, async () => {
      const ref = await cpuReference(spec);
      const engine = await engineFor(spec);
      try {
        const err = relL2(await engine.logits(PROMPT), ref.logits(PROMPT));
        console.log(
          `${spec.arch} ${spec.quant} ${spec.ropeScaling ?? ''}: relL2 vs CPU ${err.toExponential(2)}`,
        );
        expect(err).toBeLessThan(1e-4);
      } finally {
        await engine.dispose();
      }
    });
  }
});

describe('YaRN against llama.cpp', () => {
  it('qwen2 F32 yarn: logits and greedy continuation', async () => {
    const spec: TestModelSpec = { arch: 'qwen2', quant: 'F32', ropeScaling: 'yarn' };
    const path = await testModelPath(spec);
    const engine = await engineFor(spec);
    const ref = await loadReferenceModel(path);
    try {
      const nVocab = engine.model.cfg.nVocab;
      const ours = await engine.logits(PROMPT);
      const err = relL2(ours, await referenceLogits(ref, PROMPT, nVocab));
      // The scaling really acts: the same model without it gives other logits.
      const plain = await cpuReference({ arch: 'qwen2', quant: 'F32' });
      const moved = relL2(ours, plain.logits(PROMPT));
      console.log(
        `qwen2 F32 yarn: relL2 vs llama.cpp ${err.toExponential(2)}, vs unscaled ${moved.toExponential(2)}`,
      );
      expect(err).toBeLessThan(2e-3);
      expect(moved).toBeGreaterThan(1e-2);

      const g = engine.generate({ promptIds: PROMPT, maxTokens: 16, greedy: true });
      let r = await g.next();
      while (!r.done) r = await g.next();
      const want = await referenceGreedy(ref, PROMPT, 16, nVocab);
      let compared = 0;
      for (let i = 0; i < want.ids.length; i++) {
        const margin = want.margins[i] as number;
        if (r.value.ids[i] !== want.ids[i]) {
          expect(margin, `greedy token ${i}`).toBeLessThanOrEqual(0.1);
          break;
        }
        if (margin > 0.1) compared++;
      }
      expect(compared).toBeGreaterThan(4);
    } finally {
      await engine.dispose();
      await ref.dispose();
    }
  });
});

describe('RoPE scaling Dure does not apply exactly', () => {
  it('longrope is refused with a typed error naming it', async () => {
    const src = await FileSource.open(
      await testModelPath({ arch: 'qwen2', quant: 'F32', ropeScaling: 'longrope' }),
    );
    try {
      const file = await readGguf(src);
      expect(() => modelConfig(file)).toThrow(UnsupportedRopeScalingError);
      expect(() => modelConfig(file)).toThrow(/longrope/);
    } finally {
      await src.close();
    }
  });
});
