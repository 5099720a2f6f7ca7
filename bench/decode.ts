/**
 * End-to-end decode and prefill of the bench model on one adapter: tokens/s, time to first token,
 * dispatches per layer, GPU→CPU readbacks per token (counted by wrapping mapAsync), JS time per
 * token (recording and submitting), GPU memory allocated ÷ (weights + KV cache), and the GPU
 * time of each kernel variant in one decode step.
 */
import { WebGpuEngine } from '../src/engine/engine.ts';
import { FileSource } from '../src/node/file-source.ts';

export interface DecodeResult {
  model: string;
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
  opts: { decodeTokens: number; prefillTokens: number; fuseKernels?: boolean },
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

  // One greedy generation. Each sampled token ends with one forward step's argmax readback, so
  // the completion times of runArgmax mark the tokens: the first is the time to first token (the
  // whole prompt's prefill plus its sampling; prefill tok/s is taken from it), the rest are decode.
  const proto = Object.getPrototypeOf(forward) as { runArgmax: (...a: unknown[]) => Promise<number> };
  const mapAsync = GPUBuffer.prototype.mapAsync;
  let readbacks = 0;
  GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
    readbacks++;
    return mapAsync.apply(this, args);
  };
  let jsMs = 0;
  const done: number[] = [];
  let readbacksAtFirst = 0;
  let jsAtFirst = 0;
  const original = proto.runArgmax;
  proto.runArgmax = function (this: unknown, ...args: unknown[]) {
    const s = performance.now();
    const p = original.apply(this, args); // records and submits synchronously, then awaits the map
    jsMs += performance.now() - s;
    return p.then((id) => {
      done.push(performance.now());
      if (done.length === 1) {
        readbacksAtFirst = readbacks;
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
    proto.runArgmax = original;
  }
  const first = done[0] ?? performance.now();
  const ttft = first - t0;
  const decoded = Math.max(1, done.length - 1);
  const decodeMs = (done.at(-1) ?? first) - first;
  readbacks -= readbacksAtFirst;
  jsMs -= jsAtFirst;
  const perLayer = (forward.dispatchCount - 1 - 3) / cfg.nLayer; // minus embedding, final norm, output, argmax
  const result: DecodeResult = {
    model: `${info.name} (${info.quantTypes.join('+')}, ${cfg.nLayer} layers × ${cfg.nEmbd})`,
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
    readbacks_per_token: readbacks / decoded,
    js_ms_per_token: jsMs / decoded,
  };
  if (device.features.has('timestamp-query')) {
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
