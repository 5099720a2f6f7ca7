/**
 * The engine against llama.cpp (node-llama-cpp, CPU, f32 KV cache) on the same generated GGUFs:
 * relative L2 of last-position logits, and 32-token greedy continuations compared at every position
 * until the first one where llama.cpp's top-2 margin is ≤ 0.1 (a near-tie may legitimately flip;
 * after a flip the contexts differ, so later positions are not comparable).
 * llama.cpp rounds activations to 8-bit blocks before quantized products, hence the looser bound
 * for quantized weights (issue #5).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSource } from '../node/file-source.ts';
import { relL2 } from '../testing/gpu-harness.ts';
import { loadReferenceModel, referenceGreedy, referenceLogits } from '../testing/llama-cpp.ts';
import { testGpu } from '../testing/node-gpu.ts';
import { TEST_ARCHS, TEST_QUANTS, testModelPath, type TestQuant } from '../testing/test-models.ts';
import { WebGpuEngine } from './engine.ts';

const PROMPT = [1, 17, 200, 33, 5, 99, 250, 7, 12, 64];
const N_GREEDY = 32;

function bound(q: TestQuant): number {
  if (q === 'F32') return 2e-3;
  if (q === 'F16' || q === 'BF16') return 5e-3;
  return 6e-2;
}

interface Row {
  arch: string;
  quant: string;
  rel_l2: number;
  greedy_compared: number;
  greedy_total: number;
}

describe('agreement with llama.cpp', () => {
  const rows: Row[] = [];
  afterAll(() => {
    // Across the suite most positions must be comparable, or the greedy check proves little.
    const compared = rows.reduce((s, r) => s + r.greedy_compared, 0);
    console.log(`greedy positions compared with llama.cpp: ${compared} of ${rows.length * N_GREEDY}`);
    if (rows.length >= (TEST_ARCHS.length - 2) * TEST_QUANTS.length)
      expect(compared).toBeGreaterThan(rows.length * 8);
    mkdirSync('test-results', { recursive: true });
    writeFileSync('test-results/llamacpp-agreement.json', JSON.stringify(rows, null, 2));
    console.log(
      [
        'arch    type     relL2 vs llama.cpp   greedy positions compared (of 32)',
        ...rows.map(
          (r) =>
            `${r.arch.padEnd(7)} ${r.quant.padEnd(7)} ${r.rel_l2.toExponential(2).padStart(10)}   ${r.greedy_compared}`,
        ),
      ].join('\n'),
    );
  });

  for (const arch of TEST_ARCHS) {
    // The newer architectures run one float and one quantized case (CI time).
    const quants = arch === 'gemma3' || arch === 'exaone4' ? (['F32', 'Q4_K_M'] as const) : TEST_QUANTS;
    for (const quant of quants) {
      it(`${arch} ${quant}`, async () => {
        const path = await testModelPath({ arch, quant });
        const { device } = await testGpu();
        // Fused layer kernels: the GPU default (the emulator's default, unfused, is checked against
        // them in model/fused.test.ts).
        const engine = new WebGpuEngine(device, { contextLength: 128, maxBatch: 16, fuseKernels: true });
        await engine.loadSource(await FileSource.open(path));
        const ref = await loadReferenceModel(path);
        try {
          const nVocab = engine.model.cfg.nVocab;
          const ours = await engine.logits(PROMPT);
          const theirs = await referenceLogits(ref, PROMPT, nVocab);
          const err = relL2(ours, theirs);

          const g = engine.generate({ promptIds: PROMPT, maxTokens: N_GREEDY, greedy: true });
          let res;
          for (;;) {
            const r = await g.next();
            if (r.done) {
              res = r.value;
              break;
            }
          }
          const want = await referenceGreedy(ref, PROMPT, N_GREEDY, nVocab);
          // Walk both continuations while their contexts are identical. A differing token is a failure
          // when llama.cpp's margin there exceeds 0.1, else a legitimate near-tie flip that ends the walk.
          let compared = 0;
          for (let i = 0; i < want.ids.length; i++) {
            const margin = want.margins[i] as number;
            if (res.ids[i] !== want.ids[i]) {
              expect(
                margin,
                `greedy token ${i}: ours ${res.ids[i]}, llama.cpp ${want.ids[i]}`,
              ).toBeLessThanOrEqual(0.1);
              break;
            }
            if (margin > 0.1) compared++;
          }
          rows.push({ arch, quant, rel_l2: err, greedy_compared: compared, greedy_total: N_GREEDY });
          expect(err).toBeLessThan(bound(quant));
        } finally {
          await engine.dispose();
          await ref.dispose();
        }
      });
    }
  }
});
