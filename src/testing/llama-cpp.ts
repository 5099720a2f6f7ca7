/**
 * llama.cpp as the reference, through node-llama-cpp's prebuilt CPU build: last-position logits
 * and greedy continuations with each step's top-2 margin. One Llama instance per process.
 */
import { getLlama, type Llama, type LlamaModel } from 'node-llama-cpp';

let llama: Promise<Llama> | undefined;
export function referenceLlama(): Promise<Llama> {
  llama ??= getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  return llama;
}

export async function loadReferenceModel(path: string): Promise<LlamaModel> {
  return (await referenceLlama()).loadModel({ modelPath: path, gpuLayers: 0 });
}

async function withSequence<T>(
  model: LlamaModel,
  ctxLen: number,
  fn: (seq: Sequence) => Promise<T>,
): Promise<T> {
  const ctx = await model.createContext({
    contextSize: ctxLen,
    batchSize: ctxLen,
    flashAttention: false,
    // One thread: llama.cpp's workers spin-wait, which collapses on a loaded 2-core machine.
    threads: 1,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
  });
  try {
    return await fn(ctx.getSequence());
  } finally {
    await ctx.dispose();
  }
}
type Sequence = ReturnType<Awaited<ReturnType<LlamaModel['createContext']>>['getSequence']>;

function toArray(map: Map<number, number> | undefined, nVocab: number): Float32Array {
  if (!map) throw new Error('llama.cpp returned no logits');
  const out = new Float32Array(nVocab);
  for (const [tok, v] of map) out[tok] = v;
  return out;
}

/** Raw logits at the last position of `tokens`. */
export async function referenceLogits(
  model: LlamaModel,
  tokens: number[],
  nVocab: number,
): Promise<Float32Array> {
  return withSequence(model, Math.max(64, tokens.length + 8), async (seq) => {
    const input = tokens.map((t, i) =>
      i === tokens.length - 1 ? ([t, { generateNext: { logits: true } }] as const) : t,
    );
    const out = await seq.controlledEvaluate(input as never);
    const last = out[tokens.length - 1] as { next?: { logits?: Map<number, number> } } | undefined;
    return toArray(last?.next?.logits, nVocab);
  });
}

/** Greedy continuation of `n` tokens with the top-1 − top-2 logit margin at each step. */
export async function referenceGreedy(
  model: LlamaModel,
  prompt: number[],
  n: number,
  nVocab: number,
): Promise<{ ids: number[]; margins: number[] }> {
  return withSequence(model, prompt.length + n + 8, async (seq) => {
    const ids: number[] = [];
    const margins: number[] = [];
    let input: number[] = prompt;
    for (let i = 0; i < n; i++) {
      const items = input.map((t, j) =>
        j === input.length - 1 ? ([t, { generateNext: { logits: true } }] as const) : t,
      );
      const out = await seq.controlledEvaluate(items as never);
      const logits = toArray(
        (out[input.length - 1] as { next?: { logits?: Map<number, number> } } | undefined)?.next?.logits,
        nVocab,
      );
      let a = 0;
      for (let k = 1; k < nVocab; k++) if ((logits[k] as number) > (logits[a] as number)) a = k;
      let second = -Infinity;
      for (let k = 0; k < nVocab; k++) if (k !== a) second = Math.max(second, logits[k] as number);
      ids.push(a);
      margins.push((logits[a] as number) - second);
      input = [a];
    }
    return { ids, margins };
  });
}
