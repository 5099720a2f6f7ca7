/**
 * LoRA against llama.cpp: the same random adapter, applied by Dure's engine from PEFT tensors and by
 * llama.cpp (node-llama-cpp, CPU) from the GGUF that `loraToGguf` writes. Last-position logits within
 * the base agreement test's bounds, and 32-token greedy continuations identical at every position
 * until llama.cpp's top-2 margin is ≤ 0.1 (a near-tie may flip; see agreement-llamacpp.test.ts).
 * The adapter is strong enough to change the greedy continuation, which the test asserts, so a
 * converter or engine that ignored the adapter would fail.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LlamaModel } from 'node-llama-cpp';
import { FileSource } from '../../node/file-source.ts';
import { relL2 } from '../../testing/gpu-harness.ts';
import { loadReferenceModel } from '../../testing/llama-cpp.ts';
import { testGpu } from '../../testing/node-gpu.ts';
import { testModelPath, type TestArch, type TestQuant } from '../../testing/test-models.ts';
import { WebGpuEngine } from '../engine.ts';
import { LORA_MODULES, type LoraModule } from './adapter.ts';
import { randomAdapter } from '../../testing/random-adapter.ts';
import { loraToGguf } from '../../tools/gguf/lora-to-gguf.ts';
import { greedyIds } from '../../testing/greedy.ts';

const PROMPT = [1, 17, 200, 33, 5, 99, 250, 7, 12, 64];
const N_GREEDY = 32;
const SCALE = 0.75;
const CACHE = join(process.cwd(), 'node_modules/.cache/dure/lora');

function bound(q: TestQuant): number {
  return q === 'F32' ? 2e-3 : 6e-2;
}

type Context = Awaited<ReturnType<LlamaModel['createContext']>>;

async function loraContext(model: LlamaModel, loraPath: string, size: number): Promise<Context> {
  return model.createContext({
    contextSize: size,
    batchSize: size,
    flashAttention: false,
    threads: 1,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
    lora: { adapters: [{ filePath: loraPath, scale: SCALE }] },
  });
}

function logitsOf(out: unknown[], i: number, nVocab: number): Float32Array {
  const map = (out[i] as { next?: { logits?: Map<number, number> } } | undefined)?.next?.logits;
  if (!map) throw new Error('llama.cpp returned no logits');
  const v = new Float32Array(nVocab);
  for (const [t, x] of map) v[t] = x;
  return v;
}

/** llama.cpp with the adapter: last-prompt logits, then a greedy continuation with top-2 margins. */
async function llamaCppWithLora(model: LlamaModel, loraPath: string, nVocab: number) {
  const ctx = await loraContext(model, loraPath, PROMPT.length + N_GREEDY + 8);
  try {
    const seq = ctx.getSequence();
    let input = PROMPT;
    const ids: number[] = [];
    const margins: number[] = [];
    let first: Float32Array | undefined;
    for (let i = 0; i < N_GREEDY; i++) {
      const items = input.map((t, j) =>
        j === input.length - 1 ? [t, { generateNext: { logits: true } }] : t,
      );
      const out = await seq.controlledEvaluate(items as never);
      const l = logitsOf(out, input.length - 1, nVocab);
      first ??= l;
      let a = 0;
      for (let k = 1; k < nVocab; k++) if (l[k]! > l[a]!) a = k;
      let second = -Infinity;
      for (let k = 0; k < nVocab; k++) if (k !== a) second = Math.max(second, l[k]!);
      ids.push(a);
      margins.push(l[a]! - second);
      input = [a];
    }
    return { logits: first!, ids, margins };
  } finally {
    await ctx.dispose();
  }
}

describe('LoRA agreement with llama.cpp (GGUF adapter from loraToGguf)', () => {
  const rows: string[] = [];
  afterAll(() =>
    console.log(['arch   type  relL2     greedy compared (of 32)  changed vs base', ...rows].join('\n')),
  );

  const cases: [TestArch, TestQuant][] = [
    ['llama', 'F32'],
    ['qwen2', 'Q8_0'],
  ];
  for (const [arch, quant] of cases) {
    it(`${arch} ${quant}`, async () => {
      const path = await testModelPath({ arch, quant });
      const { device } = await testGpu();
      const engine = new WebGpuEngine(device, { contextLength: 128, maxBatch: 16 });
      await engine.loadSource(await FileSource.open(path));
      const ref = await loadReferenceModel(path);
      try {
        const cfg = engine.model.cfg;
        const nVocab = cfg.nVocab;
        const lora = randomAdapter(cfg, {
          rank: 8,
          alpha: 16,
          targetModules: Object.keys(LORA_MODULES) as LoraModule[],
          seed: 21,
          bStd: 0.1,
        });
        mkdirSync(CACHE, { recursive: true });
        const loraPath = join(CACHE, `agreement-${arch}-${quant}-${process.pid}.gguf`);
        writeFileSync(loraPath, loraToGguf(lora, { architecture: cfg.arch, dims: cfg }));

        const baseLogits = await engine.logits(PROMPT);
        const baseIds = await greedyIds(engine, PROMPT, N_GREEDY);
        await engine.setAdapters([{ name: 'random', lora, scale: SCALE }]);
        const ours = await engine.logits(PROMPT);
        const oursIds = await greedyIds(engine, PROMPT, N_GREEDY);
        const theirs = await llamaCppWithLora(ref, loraPath, nVocab);
        const err = relL2(ours, theirs.logits);

        let compared = 0;
        for (let i = 0; i < N_GREEDY; i++) {
          const margin = theirs.margins[i]!;
          if (oursIds[i] !== theirs.ids[i]) {
            expect(
              margin,
              `greedy token ${i}: ours ${oursIds[i]}, llama.cpp ${theirs.ids[i]}`,
            ).toBeLessThanOrEqual(0.1);
            break;
          }
          if (margin > 0.1) compared++;
        }
        const changed = theirs.ids.filter((t, i) => t !== baseIds[i]).length;
        rows.push(
          `${arch.padEnd(6)} ${quant.padEnd(5)} ${err.toExponential(2)}  ${String(compared).padStart(2)}                       ${changed}`,
        );
        expect(err).toBeLessThan(bound(quant));
        // llama.cpp really applied the adapter: its logits moved away from the base model's.
        expect(relL2(theirs.logits, baseLogits)).toBeGreaterThan(0.1);
        // The adapter must change what the model says, or token agreement proves nothing about LoRA.
        expect(changed).toBeGreaterThan(0);
        expect(compared).toBeGreaterThan(8);
      } finally {
        await engine.dispose();
        await ref.dispose();
      }
    });
  }
});
