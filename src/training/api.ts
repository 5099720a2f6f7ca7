/**
 * The contract between LoRA training (src/training, workers/training.worker.ts), the federated
 * round client (src/fl) and the tools that train Dure's demo model. Platform-neutral: Node (Dawn)
 * and the browser worker run the same trainer.
 */
import type { LoraTensors } from '../protocol/adapter-codec.ts';

/** A LoRA adapter in PEFT naming, float32 (declared with the adapter codec in src/protocol). */
export type { LoraTensors } from '../protocol/adapter-codec.ts';

/** One tokenised training sequence. Loss is taken only where `lossMask` is 1 (answer tokens). */
export interface TrainExample {
  /** Token ids of prompt + answer (+ EOS), at most the trainer's `maxSeqLen`. */
  ids: Uint32Array;
  /** Same length as `ids`; `lossMask[t] = 1` means token `ids[t]` is predicted from ids[0..t-1]. */
  lossMask: Uint8Array;
}

export interface OptimizerOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** False in FFA-LoRA: lora_A stays frozen; only lora_B is trained. */
  trainA?: boolean;
  /** FedProx: pull μ·(p − p_global) towards the adapter last set with setAdapter (0: off). */
  proximalMu?: number;
}

export interface StepResult {
  /** Mean cross-entropy over the masked tokens of the step's examples. */
  loss: number;
  /** Number of masked (trained-on) tokens. */
  tokens: number;
}

export interface EvalResult {
  loss: number;
  perplexity: number;
  tokens: number;
}

/** LoRA trainer over a frozen (quantized) base model on a GPUDevice. */
export interface LoraTrainer {
  readonly maxSeqLen: number;
  /** Replace the adapter (e.g. the round's global adapter); resets optimizer state. */
  setAdapter(adapter: LoraTensors): Promise<void>;
  /** Current adapter weights (a copy). */
  getAdapter(): Promise<LoraTensors>;
  /** Forward + backward over the examples as one accumulation group, then one AdamW step. */
  step(examples: TrainExample[]): Promise<StepResult>;
  /** Loss and gradients without updating anything (for tests and checks). */
  gradients(
    examples: TrainExample[],
  ): Promise<{ loss: number; tokens: number; grads: Map<string, Float32Array> }>;
  evaluate(examples: TrainExample[]): Promise<EvalResult>;
  dispose(): void;
}

/** Options of `createLoraTrainer(device, source, options)` in src/training/trainer.ts. */
export interface TrainerOptions {
  /** Starting adapter (e.g. `initialAdapter()` from src/protocol/lora.ts, or the round's global one). */
  adapter: LoraTensors;
  /** Longest example in tokens; activations are sized for it. */
  maxSeqLen: number;
  optimizer: OptimizerOptions;
  /**
   * Most rows of logits computed at once (default: as many as fit 64 MiB and the device's binding
   * limit). Only rows whose next token carries loss get logits at all.
   */
  maxLogitRows?: number;
  /** Use subgroup reductions when the device has them (default: when available). */
  subgroups?: boolean;
  /** Benchmarks: run each dispatch alone and add its wall time (ms) here by kernel label. */
  profile?: Map<string, number>;
}
