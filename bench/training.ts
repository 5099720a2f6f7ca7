/**
 * LoRA training throughput (issue #9 item 5): Dure's WGSL trainer vs the independent tfjs
 * reference (CPU backend) on the same model, adapter and batch, in one run. One step is forward +
 * backward over the batch plus one AdamW update of every LoRA tensor; tokens/s counts every token
 * of the batch's sequences (the forward and backward passes process all of them, masked or not).
 *
 * Standalone: `npm run bench:training` is not defined; run
 * `node scripts/with-gpu-env.mjs node --import ./scripts/register-ts.mjs bench/training.ts`.
 */
import { readFile } from 'node:fs/promises';
import { MemorySource } from '../src/engine/gguf/sources.ts';
import { testModelPath, type TestArch, type TestQuant } from '../src/testing/test-models.ts';
import { exampleBatch, randomAdapter } from '../src/testing/tfjs-lora-reference-fixtures.ts';
import { TfjsLoraReference } from '../src/testing/tfjs-lora-reference.ts';
import type { LoraTensors, TrainExample } from '../src/training/api.ts';
import { createLoraTrainer } from '../src/training/trainer.ts';

export interface TrainingBenchOptions {
  device: GPUDevice;
  arch?: TestArch;
  quant?: TestQuant;
  /** Tokens per sequence. */
  seqLen?: number;
  /** Sequences per step. */
  batch?: number;
  rank?: number;
  /** Timed steps per implementation (after one untimed warm-up step each). */
  steps?: number;
}

export interface TrainingBenchResult {
  model: string;
  seq_len: number;
  batch: number;
  rank: number;
  steps: number;
  /** Batch tokens (forward + backward + AdamW) per second. */
  wgsl_tok_s: number;
  tfjs_tok_s: number;
  /** wgsl_tok_s / tfjs_tok_s. */
  ratio: number;
  wgsl_ms_per_step: number;
  tfjs_ms_per_step: number;
}

/** AdamW on plain arrays, as the tfjs side's optimizer step (moments kept per tensor name). */
class AdamW {
  readonly #m = new Map<string, Float32Array>();
  readonly #v = new Map<string, Float32Array>();
  #t = 0;
  constructor(
    private readonly lr = 1e-3,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
    private readonly weightDecay = 0,
  ) {}

  step(params: Map<string, Float32Array>, grads: Map<string, Float32Array>): void {
    this.#t++;
    const c1 = 1 - this.beta1 ** this.#t;
    const c2 = 1 - this.beta2 ** this.#t;
    for (const [name, g] of grads) {
      const p = params.get(name)!;
      const m = this.#m.get(name) ?? new Float32Array(g.length);
      const v = this.#v.get(name) ?? new Float32Array(g.length);
      this.#m.set(name, m);
      this.#v.set(name, v);
      for (let i = 0; i < g.length; i++) {
        m[i] = this.beta1 * m[i]! + (1 - this.beta1) * g[i]!;
        v[i] = this.beta2 * v[i]! + (1 - this.beta2) * g[i]! ** 2;
        p[i] = p[i]! - this.lr * (m[i]! / c1 / (Math.sqrt(v[i]! / c2) + this.eps) + this.weightDecay * p[i]!);
      }
    }
  }
}

function copyAdapter(a: LoraTensors): LoraTensors {
  return { ...a, tensors: new Map([...a.tensors].map(([n, t]) => [n, t.slice()])) };
}

/**
 * Measures both trainers; the GPU device comes from the caller (bench/run.ts or this file's main).
 * @throws whatever the trainer or reference throws (e.g. an unsupported architecture).
 */
export async function benchTraining(opts: TrainingBenchOptions): Promise<TrainingBenchResult> {
  const arch = opts.arch ?? 'llama';
  const quant = opts.quant ?? 'Q8_0';
  const seqLen = opts.seqLen ?? 32;
  const batchSize = opts.batch ?? 2;
  const rank = opts.rank ?? 8;
  const steps = opts.steps ?? 2;
  const path = await testModelPath({ arch, quant, tokenizer: 'corpus-bpe' });
  const bytes = await readFile(path);

  const ref = await TfjsLoraReference.load(new MemorySource(bytes));
  const adapter = randomAdapter(ref.cfg, { rank, alpha: 2 * rank, seed: 5 });
  // Prompt = first quarter (masked), as in instruction tuning.
  const batch: TrainExample[] = exampleBatch(
    ref.cfg.nVocab,
    Array.from({ length: batchSize }, () => ({ length: seqLen, prompt: seqLen >> 2 })),
    9,
  );
  const tokens = batch.reduce((n, ex) => n + ex.ids.length, 0);

  const trainer = await createLoraTrainer(opts.device, new MemorySource(bytes), {
    adapter: copyAdapter(adapter),
    maxSeqLen: seqLen,
    optimizer: { learningRate: 1e-3 },
  });
  let wgslMs: number;
  try {
    await trainer.step(batch); // warm-up: pipeline compilation, first allocations
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await trainer.step(batch);
    wgslMs = (performance.now() - t0) / steps;
  } finally {
    trainer.dispose();
  }

  let tfjsMs: number;
  try {
    const params = copyAdapter(adapter);
    const opt = new AdamW();
    const tfjsStep = () => opt.step(params.tensors, ref.gradients(params, batch).grads);
    tfjsStep();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) tfjsStep();
    tfjsMs = (performance.now() - t0) / steps;
  } finally {
    ref.dispose();
  }

  const wgsl = (tokens * 1000) / wgslMs;
  const tfjs = (tokens * 1000) / tfjsMs;
  return {
    model: `test-${arch}-${quant} (${ref.cfg.nLayer}×${ref.cfg.nEmbd}, vocab ${ref.cfg.nVocab}), LoRA r${rank} on q,k,v,o,gate,up,down`,
    seq_len: seqLen,
    batch: batchSize,
    rank,
    steps,
    wgsl_tok_s: wgsl,
    tfjs_tok_s: tfjs,
    ratio: wgsl / tfjs,
    wgsl_ms_per_step: wgslMs,
    tfjs_ms_per_step: tfjsMs,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { requestNodeGpu } = await import('../src/node/webgpu.ts');
  const gpu = await requestNodeGpu();
  const seqLen = Number(process.argv.find((a) => a.startsWith('--seq-len='))?.slice(10) ?? 32);
  const steps = Number(process.argv.find((a) => a.startsWith('--steps='))?.slice(8) ?? 2);
  console.log(JSON.stringify(await benchTraining({ device: gpu.device, seqLen, steps }), null, 2));
  process.exit(0);
}
