/**
 * Validation perplexity of a GGUF model over `TrainExample`s (loss on lossMask = 1 tokens), three
 * ways: Dure's WGSL engine (WebGPU through Dawn in Node), llama.cpp (node-llama-cpp, CPU), and a
 * unigram baseline counted on the training set — the number a model must beat to have learned
 * anything beyond token frequencies.
 */
import type { LlamaModel } from 'node-llama-cpp';
import { WebGpuEngine } from '../../src/engine/engine.ts';
import { MemorySource } from '../../src/engine/gguf/sources.ts';
import type { TrainExample } from '../../src/training/api.ts';

export interface Perplexity {
  /** Mean negative log-likelihood (nats) per masked token. */
  loss: number;
  perplexity: number;
  tokens: number;
}

function result(nll: number, tokens: number): Perplexity {
  const loss = tokens > 0 ? nll / tokens : NaN;
  return { loss, perplexity: Math.exp(loss), tokens };
}

/** −log softmax(logits)[target], in float64. */
export function negLogProb(logits: ArrayLike<number>, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return Math.log(sum) + max - logits[target]!;
}

/**
 * Unigram model with add-one smoothing over the masked tokens of `train`, scored on `validation`.
 */
export function unigramPerplexity(
  train: readonly TrainExample[],
  validation: readonly TrainExample[],
  nVocab: number,
): Perplexity {
  const counts = new Float64Array(nVocab).fill(1);
  let total = nVocab;
  for (const e of train) {
    e.ids.forEach((id, t) => {
      if (e.lossMask[t]) {
        counts[id]! += 1;
        total++;
      }
    });
  }
  let nll = 0;
  let n = 0;
  for (const e of validation) {
    e.ids.forEach((id, t) => {
      if (e.lossMask[t]) {
        nll -= Math.log(counts[id]! / total);
        n++;
      }
    });
  }
  return result(nll, n);
}

/**
 * Perplexity through Dure's engine: one decode step per token (the engine reuses the cached prefix),
 * reading the logits of every position whose next token is trained on.
 */
export async function enginePerplexity(
  engine: WebGpuEngine,
  examples: readonly TrainExample[],
): Promise<Perplexity> {
  let nll = 0;
  let n = 0;
  for (const e of examples) {
    const ids = [...e.ids];
    await engine.reset();
    for (let t = 1; t < ids.length; t++) {
      if (!e.lossMask[t]) continue;
      const logits = await engine.logits(ids.slice(0, t));
      nll += negLogProb(logits, ids[t]!);
      n++;
    }
  }
  return result(nll, n);
}

/** Loads GGUF bytes into a fresh engine on `device`. */
export async function loadEngine(
  device: GPUDevice,
  bytes: Uint8Array,
  contextLength = 512,
): Promise<WebGpuEngine> {
  const engine = new WebGpuEngine(device, { contextLength });
  await engine.loadSource(new MemorySource(bytes));
  return engine;
}

/**
 * Perplexity through llama.cpp: each example is evaluated in one batch, asking at every trained-on
 * position only for the target's logit, the top logit (`includeMax` did not return it in node-llama-cpp 3.22) and Σ exp(logit − max) — enough for
 * log-softmax without shipping the whole vocabulary per position.
 */
export async function llamaCppPerplexity(
  model: LlamaModel,
  examples: readonly TrainExample[],
): Promise<Perplexity> {
  const longest = Math.max(...examples.map((e) => e.ids.length));
  const ctx = await model.createContext({
    contextSize: longest + 8,
    batchSize: longest + 8,
    flashAttention: false,
    threads: 1,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
  });
  let nll = 0;
  let n = 0;
  try {
    const seq = ctx.getSequence();
    for (const e of examples) {
      await seq.clearHistory();
      const ids = [...e.ids];
      const items = ids.map((tok, t) => {
        const next = ids[t + 1];
        if (next === undefined || !e.lossMask[t + 1]) return tok;
        return [
          tok,
          {
            generateNext: {
              logits: { filter: { tokens: [next], includeTop: 1 } },
              totalLogitWeight: true,
            },
          },
        ] as const;
      });
      const out = await seq.controlledEvaluate(items as never);
      for (let t = 0; t + 1 < ids.length; t++) {
        if (!e.lossMask[t + 1]) continue;
        const next = (out[t] as { next?: { logits?: Map<number, number>; totalLogitWeight?: number } })?.next;
        const logits = next?.logits;
        const weight = next?.totalLogitWeight;
        if (!logits || weight === undefined) throw new Error(`llama.cpp returned no logits at position ${t}`);
        const max = Math.max(...logits.values());
        nll += Math.log(weight) + max - logits.get(ids[t + 1]!)!;
        n++;
      }
    }
  } finally {
    await ctx.dispose();
  }
  return result(nll, n);
}
