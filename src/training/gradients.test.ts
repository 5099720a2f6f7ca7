/**
 * Issue #8 item 2: the WGSL LoRA trainer's loss and gradients match an independent reference
 * written with @tensorflow/tfjs (src/testing/tfjs-lora-reference.ts, itself checked against the
 * float64 CPU model and float64 finite differences) on the same tiny model and batch: every
 * gradient tensor within 1e-3 relative L2, the loss within 1e-4 relative.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySource } from '../engine/gguf/sources.ts';
import { testTrainingGpu } from '../testing/node-gpu.ts';
import { testModelPath, type TestArch, type TestQuant } from '../testing/test-models.ts';
import { exampleBatch, randomAdapter, relativeL2 } from '../testing/tfjs-lora-reference-fixtures.ts';
import { TfjsLoraReference, type ReferenceGradients } from '../testing/tfjs-lora-reference.ts';
import type { LoraTensors, TrainExample } from './api.ts';
import { createLoraTrainer } from './trainer.ts';

const GRAD_TOLERANCE = 1e-3;
const LOSS_TOLERANCE = 1e-4;

/** Three examples of different lengths, prompts masked (context only), answers trained on. */
const SHAPES = [
  { length: 13, prompt: 6 },
  { length: 6, prompt: 2 },
  { length: 16, prompt: 10 },
];
const MAX_SEQ_LEN = 16;

/** Tensors whose relative L2 error exceeds the tolerance, with the error (all listed on failure). */
function mismatches(
  got: Map<string, Float32Array>,
  want: Map<string, Float32Array>,
): { name: string; err: number }[] {
  const bad: { name: string; err: number }[] = [];
  for (const [name, w] of want) {
    const g = got.get(name);
    const err = g && g.length === w.length ? relativeL2(g, w) : Infinity;
    if (!(err <= GRAD_TOLERANCE)) bad.push({ name, err });
  }
  return bad;
}

// FFA-LoRA is checked once (on the quantized base): it changes which tensors train, not the model.
describe.each([
  ['llama', 'F32', false],
  ['llama', 'Q8_0', true],
  ['qwen2', 'F32', false],
] as const satisfies readonly (readonly [TestArch, TestQuant, boolean])[])(
  'WGSL LoRA gradients vs the tfjs reference: %s %s',
  (arch, quant, checkFfa) => {
    let bytes: Uint8Array;
    let adapter: LoraTensors;
    let batch: TrainExample[];
    let want: ReferenceGradients;
    let ref: TfjsLoraReference;

    beforeAll(async () => {
      bytes = await readFile(await testModelPath({ arch, quant, tokenizer: 'corpus-bpe' }));
      ref = await TfjsLoraReference.load(new MemorySource(bytes));
      adapter = randomAdapter(ref.cfg, { rank: 4, alpha: 8, seed: 11 });
      batch = exampleBatch(ref.cfg.nVocab, SHAPES, 12);
      want = ref.gradients(adapter, batch);
    }, 60_000);
    afterAll(() => ref.dispose());

    async function trainerGradients(trainA: boolean) {
      const { device } = await testTrainingGpu();
      const trainer = await createLoraTrainer(device, new MemorySource(bytes), {
        adapter,
        maxSeqLen: MAX_SEQ_LEN,
        optimizer: { learningRate: 1e-3, trainA },
      });
      try {
        return await trainer.gradients(batch);
      } finally {
        trainer.dispose();
      }
    }

    it('loss and every lora_A / lora_B gradient match', async () => {
      const got = await trainerGradients(true);
      expect(got.tokens).toBe(want.tokens);
      expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(LOSS_TOLERANCE);
      expect(got.grads.size).toBe(adapter.tensors.size);
      expect(mismatches(got.grads, want.grads)).toEqual([]);
    }, 120_000);

    if (checkFfa)
      it('FFA-LoRA (A frozen) gives the same lora_B gradients', async () => {
        const got = await trainerGradients(false);
        expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(LOSS_TOLERANCE);
        const wantB = new Map([...want.grads].filter(([n]) => n.endsWith('lora_B.weight')));
        expect(mismatches(got.grads, wantB)).toEqual([]);
      }, 120_000);
  },
);
