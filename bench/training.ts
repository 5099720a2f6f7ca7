/**
 * LoRA training throughput (issue #9 item 5): Dure's WGSL trainer vs the independent tfjs
 * reference (CPU backend) on the same model, adapter and batch, in one run. One step is forward +
 * backward over the batch plus one AdamW update of every LoRA tensor; tokens/s counts every token
 * of the batch's sequences (the forward and backward passes process all of them, masked or not).
 *
 * Standalone: `node scripts/with-gpu-env.mjs node --import ./scripts/register-ts.mjs bench/training.ts
 * [--seq-len=32] [--steps=2]` prints the JSON; bench/run.ts calls `benchTraining`.
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
  /** |WGSL − tfjs| / tfjs loss of the first (warm-up) step, from the same adapter: a sanity check. */
  first_loss_rel_diff: number;
  /** Process CPU time per step (user + system, all threads): steadier than wall time under load. */
  wgsl_cpu_ms_per_step: number;
  tfjs_cpu_ms_per_step: number;
  /**
   * The same batch with loss on every token, so every row gets logits: the trainer computes
   * logits only for rows with loss, and this says what that saves here (prompt = a quarter).
   */
  wgsl_all_rows_ms_per_step: number;
  /** wgsl_ms_per_step / wgsl_all_rows_ms_per_step (below 1: the answer-only logits save time). */
  answer_rows_over_all_rows: number;
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
  const allRows = batch.map((ex) => ({ ids: ex.ids, lossMask: new Uint8Array(ex.ids.length).fill(1) }));

  const trainer = await createLoraTrainer(opts.device, new MemorySource(bytes), {
    adapter: copyAdapter(adapter),
    maxSeqLen: seqLen,
    optimizer: { learningRate: 1e-3 },
  });
  const params = copyAdapter(adapter);
  const opt = new AdamW();
  const tfjsStep = () => {
    const g = ref.gradients(params, batch);
    opt.step(params.tensors, g.grads);
    return g.loss;
  };
  // Wall and process-CPU time of one step. The CPU figure matters on a shared machine: both sides
  // run in this process (SwiftShader's threads included), so it is less sensitive to other load.
  const timed = async (f: () => unknown) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await f();
    const c = process.cpuUsage(c0);
    return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
  };
  let lossRelDiff = NaN;
  const wgsl = { wall: 0, cpu: 0 };
  const tfjs = { wall: 0, cpu: 0 };
  const all = { wall: 0, cpu: 0 };
  try {
    // Warm-up (pipeline compilation, first allocations), then steps interleaved so that load from
    // other processes falls on both sides alike.
    const first = await trainer.step(batch);
    const tfjsFirst = tfjsStep();
    // Both start from the same adapter, so the first losses must agree (a broken trainer is not fast).
    lossRelDiff = Math.abs(first.loss - tfjsFirst) / tfjsFirst;
    for (let i = 0; i < steps; i++) {
      const w = await timed(() => trainer.step(batch));
      const t = await timed(tfjsStep);
      const a = await timed(() => trainer.step(allRows));
      all.wall += a.wall / steps;
      wgsl.wall += w.wall / steps;
      wgsl.cpu += w.cpu / steps;
      tfjs.wall += t.wall / steps;
      tfjs.cpu += t.cpu / steps;
    }
  } finally {
    trainer.dispose();
    ref.dispose();
  }

  const wgslTokS = (tokens * 1000) / wgsl.wall;
  const tfjsTokS = (tokens * 1000) / tfjs.wall;
  return {
    model: `test-${arch}-${quant} (${ref.cfg.nLayer}×${ref.cfg.nEmbd}, vocab ${ref.cfg.nVocab}), LoRA r${rank} on q,k,v,o,gate,up,down`,
    seq_len: seqLen,
    batch: batchSize,
    rank,
    steps,
    wgsl_tok_s: wgslTokS,
    tfjs_tok_s: tfjsTokS,
    ratio: wgslTokS / tfjsTokS,
    wgsl_ms_per_step: wgsl.wall,
    tfjs_ms_per_step: tfjs.wall,
    first_loss_rel_diff: lossRelDiff,
    wgsl_cpu_ms_per_step: wgsl.cpu,
    tfjs_cpu_ms_per_step: tfjs.cpu,
    wgsl_all_rows_ms_per_step: all.wall,
    answer_rows_over_all_rows: wgsl.wall / all.wall,
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
