/**
 * The peers bench page: the same prompt, greedy, through (a) Dure's WebGPU engine in
 * its Web Worker, (b) ONNX Runtime Web's WebGPU backend on the ONNX export of the same GGUF and
 * (c) wllama (llama.cpp in WebAssembly, CPU). bench/peers.ts drives it with Playwright and calls
 * the functions on `window.peers` one after another, so they share the adapter but never run at
 * the same time.
 *
 * Every peer is timed the same way, on the page's clock: TTFT = request → first generated token
 * known on the CPU (prefill of the whole prompt plus one sampling); prefill tokens/s = prompt ÷
 * TTFT; decode tokens/s = tokens after the first ÷ time after the first.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { Wllama } from '@wllama/wllama/esm/index.js';
import wllamaWasm from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import { WorkerEngine } from '../../src/engine/worker-client.ts';
import { spawnInferenceWorker } from '../../workers/spawn.ts';

export interface PeerRun {
  prompt_tokens: number;
  decoded_tokens: number;
  ttft_ms: number;
  prefill_tok_s: number;
  tok_s: number;
  load_ms: number;
  /** Greedy ids generated (for a sanity look: Dure and llama.cpp run the same weights). */
  ids: number[];
  note?: string;
  /** Milliseconds of each step (prefill, then one per decoded token), where the peer exposes them. */
  steps_ms?: number[];
  warmup_steps_ms?: number[];
  /** llama.cpp's own timings (wllama), for cross-checking the page clock. */
  native?: { prefill_tok_s: number; tok_s: number };
}

export interface PeerRequest {
  url: string;
  promptIds: number[];
  /** The same prompt as text, for wllama (its API takes text; llama.cpp tokenizes it identically). */
  promptText: string;
  decodeTokens: number;
}

function summary(
  prompt: number,
  t0: number,
  tFirst: number,
  tEnd: number,
  ids: number[],
  loadMs: number,
): PeerRun {
  const ttft = tFirst - t0;
  const after = Math.max(0, ids.length - 1);
  return {
    prompt_tokens: prompt,
    decoded_tokens: ids.length,
    ttft_ms: ttft,
    prefill_tok_s: prompt / (ttft / 1000),
    tok_s: after > 0 ? after / ((tEnd - tFirst) / 1000) : 0,
    load_ms: loadMs,
    ids,
  };
}

/** Dure's engine in its worker (the product's own path). */
async function dure(req: PeerRequest): Promise<PeerRun> {
  const t = performance.now();
  const engine = new WorkerEngine({ contextLength: 1024, maxBatch: 64 }, spawnInferenceWorker());
  try {
    await engine.load(req.url);
    const loadMs = performance.now() - t;
    // Warm-up compiles every pipeline (a multi-token step, a one-token step, sampling).
    const warm = engine.generate({ promptIds: req.promptIds.slice(0, 6), maxTokens: 2, greedy: true });
    while (!(await warm.next()).done);
    const ids: number[] = [];
    let tFirst = 0;
    const t0 = performance.now();
    const g = engine.generate({ promptIds: req.promptIds, maxTokens: req.decodeTokens + 1, greedy: true });
    for (;;) {
      const r = await g.next();
      if (r.done) break;
      if (!tFirst && r.value.ids.length) tFirst = performance.now();
      ids.push(...r.value.ids);
    }
    return summary(req.promptIds.length, t0, tFirst, performance.now(), ids, loadMs);
  } finally {
    await engine.dispose();
  }
}

function argmaxLast(t: ort.Tensor): number {
  const [, seq, vocab] = t.dims as [number, number, number];
  const data = t.data as Float32Array;
  const off = (seq - 1) * vocab;
  let best = 0;
  for (let i = 1; i < vocab; i++) if ((data[off + i] as number) > (data[off + best] as number)) best = i;
  return best;
}

function i64(values: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]);
}

/**
 * ONNX Runtime Web on WebGPU with the KV cache kept on the GPU (present.* → gpu-buffer, fed back as
 * past_key_values), as transformers.js runs generative models; only logits come back to the CPU.
 */
async function ortWebgpu(
  req: PeerRequest & { nLayer: number; nKv: number; headDim: number; warmSame?: boolean; kvOnCpu?: boolean },
): Promise<PeerRun> {
  ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
  ort.env.wasm.numThreads = 1;
  const t = performance.now();
  const presentNames: string[] = [];
  for (let l = 0; l < req.nLayer; l++) presentNames.push(`present.${l}.key`, `present.${l}.value`);
  const session = await ort.InferenceSession.create(req.url, {
    executionProviders: ['webgpu'],
    graphOptimizationLevel: 'all',
    ...((globalThis as { ORT_VERBOSE?: boolean }).ORT_VERBOSE ? { logSeverityLevel: 0 as const } : {}),
    preferredOutputLocation: Object.fromEntries(
      presentNames.map((n) => [n, req.kvOnCpu ? ('cpu' as const) : ('gpu-buffer' as const)]),
    ),
  });
  const loadMs = performance.now() - t;
  const run = async (prompt: number[], n: number) => {
    let past: Record<string, ort.Tensor> = {};
    for (let l = 0; l < req.nLayer; l++) {
      for (const kv of ['key', 'value'])
        past[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [
          1,
          req.nKv,
          0,
          req.headDim,
        ]);
    }
    const ids: number[] = [];
    const steps: number[] = [];
    let input = prompt;
    let pos = 0;
    let tFirst = 0;
    const t0 = performance.now();
    try {
      for (let i = 0; i < n; i++) {
        const ts = performance.now();
        const out = await session.run({
          input_ids: i64(input),
          attention_mask: i64(Array.from({ length: pos + input.length }, () => 1)),
          position_ids: i64(input.map((_, j) => pos + j)),
          ...past,
        });
        const logits = out['logits'];
        if (!logits) throw new Error('no logits');
        const next = argmaxLast(logits);
        logits.dispose();
        for (const tensor of Object.values(past)) tensor.dispose();
        past = {};
        for (let l = 0; l < req.nLayer; l++) {
          for (const kv of ['key', 'value']) {
            const p = out[`present.${l}.${kv}`];
            if (!p) throw new Error(`no present.${l}.${kv}`);
            past[`past_key_values.${l}.${kv}`] = p;
          }
        }
        pos += input.length;
        input = [next];
        ids.push(next);
        steps.push(performance.now() - ts);
        if (!tFirst) tFirst = performance.now();
      }
      return { ...summary(prompt.length, t0, tFirst, performance.now(), ids, loadMs), steps_ms: steps };
    } finally {
      for (const tensor of Object.values(past)) tensor.dispose();
    }
  };
  try {
    // Warm-up compiles the shaders for a multi-token and a one-token step; with `warmSame` it is
    // the identical generation, so shape-keyed shaders are compiled too (the most favourable case).
    const warm = req.warmSame
      ? await run(req.promptIds, req.decodeTokens + 1)
      : await run(req.promptIds.slice(0, 6), 2);
    return { ...(await run(req.promptIds, req.decodeTokens + 1)), warmup_steps_ms: warm.steps_ms ?? [] };
  } finally {
    await session.release();
  }
}

/** llama.cpp compiled to WebAssembly (CPU), single-threaded unless the page is cross-origin isolated. */
async function wllama(req: PeerRequest & { threads: number }): Promise<PeerRun> {
  const t = performance.now();
  const w = new Wllama({ default: wllamaWasm }, { suppressNativeLog: true });
  w.setCompat(null);
  const blob = await (await fetch(req.url)).blob();
  await w.loadModel([blob], { n_ctx: 1024, n_threads: req.threads, n_gpu_layers: 0, n_parallel: 1 });
  const loadMs = performance.now() - t;
  const complete = async (prompt: string, n: number) => {
    const ids: number[] = [];
    let tFirst = 0;
    let pieces = 0;
    const t0 = performance.now();
    const stream = await w.createCompletion({
      prompt,
      stream: true,
      max_tokens: n,
      temp: 0,
      top_k: 1,
      ignore_eos: true,
      cache_prompt: false,
    } as Parameters<Wllama['createCompletion']>[0] & { stream: true });
    let predicted = 0;
    let promptTokens = 0;
    let native: PeerRun['native'];
    for await (const chunk of stream) {
      if (chunk.choices[0]?.text !== undefined && !tFirst) tFirst = performance.now();
      pieces++;
      if (chunk.usage) {
        predicted = chunk.usage.completion_tokens;
        promptTokens = chunk.usage.prompt_tokens;
      }
      if (chunk.timings)
        native = {
          prefill_tok_s: chunk.timings.prompt_per_second,
          tok_s: chunk.timings.predicted_per_second,
        };
    }
    const tEnd = performance.now();
    const count = predicted || pieces;
    for (let i = 0; i < count; i++) ids.push(-1); // ids are not streamed; the count is what matters
    return { ...summary(promptTokens, t0, tFirst, tEnd, ids, loadMs), ...(native ? { native } : {}) };
  };
  try {
    await complete(req.promptText.slice(0, 8), 2);
    const r = await complete(req.promptText, req.decodeTokens + 1);
    return { ...r, ids: [], note: `llama.cpp WebAssembly, ${req.threads} thread(s)` };
  } finally {
    await w.exit();
  }
}

async function adapterInfo(): Promise<{ description: string; features: string[] }> {
  const a = await navigator.gpu?.requestAdapter();
  if (!a) return { description: 'none', features: [] };
  const i = a.info;
  return {
    description: [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' '),
    features: [...a.features].sort(),
  };
}

const peers = { dure, ortWebgpu, wllama, adapterInfo, crossOriginIsolated: () => self.crossOriginIsolated };
export type PeersApi = typeof peers;
(window as unknown as { peers: PeersApi }).peers = peers;
document.body.dataset['ready'] = '1';
