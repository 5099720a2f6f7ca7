/**
 * End-to-end decode and prefill of the bench model on one adapter: tokens/s, time to first token,
 * dispatches per layer, GPU→CPU readbacks per token (counted by wrapping mapAsync), JS time per
 * token (recording and submitting), and GPU memory allocated ÷ (weights + KV cache).
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
}

export async function benchDecode(
  device: GPUDevice,
  modelPath: string,
  opts: { decodeTokens: number; prefillTokens: number },
): Promise<DecodeResult> {
  const engine = new WebGpuEngine(device, { contextLength: 1024, maxBatch: 64 });
  await engine.loadSource(await FileSource.open(modelPath));
  const { cfg, forward, weights, info } = engine.model;
  const vocab = cfg.nVocab;
  const prompt = Array.from({ length: opts.prefillTokens }, (_, i) => (i * 7919 + 13) % vocab);

  // Warm-up: compiles every pipeline (SwiftShader compiles at first dispatch): a multi-token step,
  // a one-token step, and greedy sampling.
  await engine.logits(prompt.slice(0, 5));
  const warm = engine.generate({ promptIds: prompt.slice(0, 6), maxTokens: 1, greedy: true });
  while (!(await warm.next()).done);
  await engine.reset();

  // Prefill: the whole prompt, then one logits read to know the GPU finished.
  let t0 = performance.now();
  await engine.logits(prompt);
  const prefillMs = performance.now() - t0;
  await engine.reset();

  // Time to first token and decode speed from one greedy generation.
  const proto = Object.getPrototypeOf(forward) as { runArgmax: (...a: unknown[]) => Promise<number> };
  const mapAsync = GPUBuffer.prototype.mapAsync;
  let readbacks = 0;
  GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
    readbacks++;
    return mapAsync.apply(this, args);
  };
  let jsMs = 0;
  const original = proto.runArgmax;
  proto.runArgmax = function (this: unknown, ...args: unknown[]) {
    const s = performance.now();
    const p = original.apply(this, args); // records and submits synchronously, then awaits the map
    jsMs += performance.now() - s;
    return p;
  };
  let ttft = 0;
  let decodeStart = 0;
  let tokens = 0;
  try {
    t0 = performance.now();
    const g = engine.generate({ promptIds: prompt, maxTokens: opts.decodeTokens + 1, greedy: true });
    readbacks = 0;
    jsMs = 0;
    for (;;) {
      const r = await g.next();
      if (r.done) {
        tokens = r.value.completionTokens;
        break;
      }
      if (!ttft) {
        ttft = performance.now() - t0;
        decodeStart = performance.now();
        readbacks = 0;
        jsMs = 0;
      }
    }
  } finally {
    GPUBuffer.prototype.mapAsync = mapAsync;
    proto.runArgmax = original;
  }
  const decodeMs = performance.now() - decodeStart;
  const decoded = Math.max(1, tokens - 1);
  const perLayer = (forward.dispatchCount - 1 - 3) / cfg.nLayer; // minus embedding, final norm, output, argmax
  const result: DecodeResult = {
    model: `${info.name} (${info.quantTypes.join('+')}, ${cfg.nLayer} layers × ${cfg.nEmbd})`,
    weights_bytes: weights.bytes,
    kv_bytes: forward.kvBytes,
    gpu_bytes: weights.bytes + forward.bytes,
    weights_plus_kv_bytes: weights.bytes + forward.kvBytes,
    tok_s: decoded / (decodeMs / 1000),
    prefill_tokens: prompt.length,
    prefill_tok_s: prompt.length / (prefillMs / 1000),
    ttft_ms: ttft,
    dispatches_per_layer: perLayer,
    dispatches_per_token: forward.dispatchCount,
    readbacks_per_token: readbacks / decoded,
    js_ms_per_token: jsMs / decoded,
  };
  await engine.dispose();
  return result;
}
