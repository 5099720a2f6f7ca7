/**
 * End-to-end decode and prefill of the bench model on one adapter: tokens/s, time to first token,
 * dispatches per layer, GPU→CPU readbacks per token (counted by wrapping mapAsync), JS time per
 * token (recording and submitting), GPU memory allocated ÷ (weights + KV cache), and the GPU
 * time of each kernel variant in one decode step.
 */
import { WebGpuEngine } from '../src/engine/engine.ts';
import type { DecodeDraw } from '../src/engine/model/forward.ts';
import { FileSource } from '../src/node/file-source.ts';

export interface DecodeResult {
  model: string;
  vocab: number;
  weights_bytes: number;
  kv_bytes: number;
  gpu_bytes: number;
  weights_plus_kv_bytes: number;
  tok_s: number;
  prefill_tokens: number;
  prefill_tok_s: number;
  ttft_ms: number;
  dispatches_per_layer: number;
  dispatches_per_token: number;
  readbacks_per_token: number;
  js_ms_per_token: number;
  /** GPU ms per kernel variant in one decode step (timestamp queries, one pass per dispatch). */
  kernel_ms?: Record<string, number>;
}

export async function benchDecode(
  device: GPUDevice,
  modelPath: string,
  opts: {
    decodeTokens: number;
    prefillTokens: number;
    fuseKernels?: boolean;
    /** Time one decode step kernel by kernel when the device has timestamps (default true). */
    profile?: boolean;
  },
): Promise<DecodeResult> {
  const engine = new WebGpuEngine(device, {
    contextLength: 1024,
    maxBatch: 64,
    fuseKernels: opts.fuseKernels ?? true,
  });
  await engine.loadSource(await FileSource.open(modelPath));
  const { cfg, forward, weights, info } = engine.model;
  const vocab = cfg.nVocab;
  const prompt = Array.from({ length: opts.prefillTokens }, (_, i) => (i * 7919 + 13) % vocab);

  // Warm-up: compiles every pipeline (SwiftShader compiles at first dispatch): a multi-token step,
  // a one-token step, and greedy sampling.
  const warm = engine.generate({ promptIds: prompt.slice(0, 6), maxTokens: 2, greedy: true });
  while (!(await warm.next()).done);
  await engine.reset();

  // One greedy generation. Each sampled token is one token-loop step (decodeStep) whose 4-byte
  // readback completes when the token is known, so those completion times mark the tokens: the
  // first is the time to first token (the whole prompt's prefill plus its sampling; prefill tok/s
  // is taken from it), the rest are decode.
  const proto = Object.getPrototypeOf(forward) as { decodeStep: (...a: unknown[]) => Promise<number> };
  const mapAsync = GPUBuffer.prototype.mapAsync;
  let readbacks = 0;
  GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
    readbacks++;
    return mapAsync.apply(this, args);
  };
  let jsMs = 0;
  const done: number[] = [];
  let jsAtFirst = 0;
  const original = proto.decodeStep;
  proto.decodeStep = function (this: unknown, ...args: unknown[]) {
    const s = performance.now();
    const p = original.apply(this, args); // records and submits synchronously; the map completes later
    jsMs += performance.now() - s;
    return p.then((id) => {
      done.push(performance.now());
      if (done.length === 1) {
        jsAtFirst = jsMs;
      }
      return id;
    });
  };
  const t0 = performance.now();
  try {
    const g = engine.generate({ promptIds: prompt, maxTokens: opts.decodeTokens + 1, greedy: true });
    while (!(await g.next()).done);
  } finally {
    GPUBuffer.prototype.mapAsync = mapAsync;
    proto.decodeStep = original;
  }
  const first = done[0] ?? performance.now();
  const ttft = first - t0;
  const decoded = Math.max(1, done.length - 1);
  const decodeMs = (done.at(-1) ?? first) - first;
  // Readbacks over every token of the generation: with the token loop on the GPU the next step's
  // readback is already issued when the first token arrives, so a split at the first would miscount.
  const readbacksPerToken = readbacks / Math.max(1, done.length);
  jsMs -= jsAtFirst;
  const perLayer = (forward.dispatchCount - 1 - 3) / cfg.nLayer; // minus embedding, final norm, output, argmax
  const result: DecodeResult = {
    model: `${info.name} (${info.quantTypes.join('+')}, ${cfg.nLayer} layers × ${cfg.nEmbd})`,
    vocab,
    weights_bytes: weights.bytes,
    kv_bytes: forward.kvBytes,
    gpu_bytes: weights.bytes + forward.bytes,
    weights_plus_kv_bytes: weights.bytes + forward.kvBytes,
    tok_s: decoded / (decodeMs / 1000),
    prefill_tokens: prompt.length,
    prefill_tok_s: prompt.length / (ttft / 1000),
    ttft_ms: ttft,
    dispatches_per_layer: perLayer,
    dispatches_per_token: forward.dispatchCount,
    readbacks_per_token: readbacksPerToken,
    js_ms_per_token: jsMs / decoded,
  };
  if (opts.profile !== false && device.features.has('timestamp-query')) {
    // One more decode step after the generation, timed dispatch by dispatch: where a token goes.
    const ms = await forward.profileStep(
      Uint32Array.of(prompt[0] ?? 0),
      prompt.length + opts.decodeTokens + 1,
    );
    result.kernel_ms = Object.fromEntries([...ms].sort((a, b) => b[1] - a[1]));
  }
  await engine.dispose();
  return result;
}

export interface LongContextResult {
  model: string;
  /** Tokens of context before the first timed step of each case. */
  short_context: number;
  long_context: number;
  tokens: number;
  short_tok_s: number;
  long_tok_s: number;
  /** long_tok_s ÷ short_tok_s, same engine, same run. */
  ratio: number;
  method: string;
}

/**
 * Decode tok/s with a long context ÷ with a short one (issue #21 item 5): greedy token-loop steps
 * (the GPU feeds each sampled id to the next step, one step in flight) at positions ≥ `longContext`
 * and at positions ≥ `shortContext`. The positions before them are not prefilled: attention reads
 * every cached position either way and its cost does not depend on the values (WebGPU zeroes new
 * buffers), so a 2048-token context costs no 2048-token prefill on a software adapter.
 */
export async function benchLongContext(
  device: GPUDevice,
  modelPath: string,
  opts: { tokens: number; shortContext?: number; longContext?: number; fuseKernels?: boolean },
): Promise<LongContextResult> {
  const short = opts.shortContext ?? 16;
  const long = opts.longContext ?? 2048;
  const engine = new WebGpuEngine(device, {
    contextLength: long + opts.tokens + 2,
    maxBatch: 64,
    ...(opts.fuseKernels === undefined ? {} : { fuseKernels: opts.fuseKernels }),
  });
  await engine.loadSource(await FileSource.open(modelPath));
  try {
    const { cfg, forward, info } = engine.model;
    if (info.contextLength < long + opts.tokens + 2)
      throw new Error(
        `${modelPath} holds ${info.contextLength} tokens of context, fewer than ${long + opts.tokens + 2}`,
      );
    const draw: DecodeDraw = { greedy: true, k: 1, temperature: 0, topP: 1, minP: 0, penalty: 1 };
    const rate = async (pos0: number): Promise<number> => {
      await forward.decodeStep(1, pos0, draw, 0); // compiles and warms the attention span
      const t0 = performance.now();
      let current = forward.decodeStep(1, pos0, draw, 0);
      for (let i = 1; i < opts.tokens; i++) {
        const ahead = forward.decodeStep('previous', pos0 + i, draw, 0);
        await current;
        current = ahead;
      }
      await current;
      return opts.tokens / ((performance.now() - t0) / 1000);
    };
    const shortTokS = await rate(short);
    const longTokS = await rate(long);
    return {
      model: `${info.name} (${info.quantTypes.join('+')}, ${cfg.nLayer} layers × ${cfg.nEmbd}, ${cfg.nKv} KV heads × ${cfg.headDim})`,
      short_context: short,
      long_context: long,
      tokens: opts.tokens,
      short_tok_s: shortTokS,
      long_tok_s: longTokS,
      ratio: longTokS / shortTokS,
      method:
        'greedy GPU token-loop steps at positions >= context; earlier positions not prefilled ' +
        '(attention reads all of them; its cost does not depend on the values)',
    };
  } finally {
    await engine.dispose();
  }
}
