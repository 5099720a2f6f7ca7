/**
 * Dure against llama.cpp on one GPU and one GGUF (issue #21 item 6): decode and prefill tokens/s of
 * each, and each decode's weight bytes per second as a share of the adapter's measured copy
 * bandwidth. The pieces of `npm run bench:gpu` (bench/gpu.ts), importable by its test.
 */
import { isCpuEmulatedAdapter } from '../src/engine/gpu/device.ts';
import { benchDecode } from './decode.ts';
import { gpuBenchModelPath, QWEN25_15B_SHAPE, SMOKE_SHAPE, type GpuBenchShape } from './gpu-model.ts';

export interface EngineFigures {
  decode_tok_s: number;
  prefill_tok_s: number;
  /** Weight bytes read per decoded token × tok/s ÷ copy bandwidth, in percent. */
  pct_copy_bandwidth: number;
}

export interface GpuCompareResult {
  adapter: string;
  software_adapter: boolean;
  dure: EngineFigures & { readbacks_per_token: number; dispatches_per_token: number };
  /**
   * The engine's default (fused gate/up on a GPU) against the separate kernels, same run: the
   * measurement the fused default per adapter class should follow (bench/README.md).
   */
  fused_vs_separate: {
    fused_decode_tok_s: number;
    separate_decode_tok_s: number;
    fused_prefill_tok_s: number;
    separate_prefill_tok_s: number;
    /** fused ÷ separate decode tok/s. */
    decode_ratio: number;
  };
  llama_cpp: (EngineFigures & { backend: string; devices: string[] }) | { error: string };
  /** dure.decode_tok_s ÷ llama_cpp.decode_tok_s (null when llama.cpp did not run). */
  ratio: number | null;
  copy_gbps: number;
  model: { shape: string; path: string; weights_bytes: number; prompt_tokens: number; decode_tokens: number };
  smoke: boolean;
  date: string;
}

export interface CompareSizes {
  shape: GpuBenchShape;
  promptTokens: number;
  decodeTokens: number;
  copyBytes: number;
  copyIters: number;
  /** llama.cpp CPU threads (undefined: its default, every core). */
  cpuThreads?: number;
}

export function compareSizes(smoke: boolean): CompareSizes {
  return smoke
    ? // One CPU thread: the smoke runs on busy CI machines, where spinning threads crawl.
      {
        shape: SMOKE_SHAPE,
        promptTokens: 16,
        decodeTokens: 4,
        copyBytes: 16 << 20,
        copyIters: 3,
        cpuThreads: 1,
      }
    : { shape: QWEN25_15B_SHAPE, promptTokens: 512, decodeTokens: 128, copyBytes: 1 << 30, copyIters: 20 };
}

/**
 * GB/s of copyBufferToBuffer on a `bytes` buffer (read + write, as bench/roofline.ts counts a
 * copy), from wall time around one submit of `iters` copies after a warm-up copy.
 */
export async function copyBandwidth(device: GPUDevice, bytes: number, iters: number): Promise<number> {
  const usage = GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const src = device.createBuffer({ size: bytes, usage });
  const dst = device.createBuffer({ size: bytes, usage });
  try {
    const run = async (n: number) => {
      const enc = device.createCommandEncoder();
      for (let i = 0; i < n; i++) enc.copyBufferToBuffer(src, 0, dst, 0, bytes);
      const t0 = performance.now();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    await run(1);
    const ms = await run(iters);
    return (2 * bytes * iters) / (ms / 1000) / 1e9;
  } finally {
    src.destroy();
    dst.destroy();
  }
}

const SOFTWARE_VULKAN = /llvmpipe|lavapipe|swiftshader/i;

/**
 * llama.cpp through node-llama-cpp's prebuilt binaries (never built here): Vulkan on a real GPU,
 * else CUDA, else the CPU. A Vulkan build whose only devices are software rasterisers is skipped.
 */
export async function llamaCppFigures(
  modelPath: string,
  promptIds: number[],
  decodeTokens: number,
  bytesPerToken: number,
  copyGbps: number,
  log: (s: string) => void,
  cpuThreads?: number,
): Promise<EngineFigures & { backend: string; devices: string[] }> {
  const { getLlama } = await import('node-llama-cpp');
  let llama: Awaited<ReturnType<typeof getLlama>> | undefined;
  let devices: string[] = [];
  for (const gpu of ['vulkan', 'cuda', false] as const) {
    try {
      const l = await getLlama({ gpu, build: 'never', logLevel: 'error' as never });
      devices = gpu ? await l.getGpuDeviceNames() : [];
      if (gpu && (devices.length === 0 || devices.every((d) => SOFTWARE_VULKAN.test(d)))) {
        log(`llama.cpp ${gpu}: only software devices (${devices.join(', ') || 'none'}), trying the next`);
        await l.dispose();
        continue;
      }
      llama = l;
      break;
    } catch (e) {
      log(`llama.cpp ${gpu || 'cpu'}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (!llama) throw new Error('no node-llama-cpp binary loaded');
  const backend = llama.gpu || 'cpu';
  const model = await llama.loadModel({ modelPath, gpuLayers: llama.gpu ? 'max' : 0 });
  const ctx = await model.createContext({
    contextSize: promptIds.length + decodeTokens + 16,
    batchSize: Math.max(64, promptIds.length),
    ...(cpuThreads && !llama.gpu ? { threads: cpuThreads } : {}),
  });
  try {
    const once = async (prompt: number[], n: number) => {
      const seq = ctx.getSequence();
      try {
        let count = 0;
        let tFirst = 0;
        const t0 = performance.now();
        for await (const _ of seq.evaluate(prompt as never, { temperature: 0 })) {
          void _;
          if (!tFirst) tFirst = performance.now();
          if (++count >= n) break;
        }
        const tEnd = performance.now();
        return {
          prefill_tok_s: prompt.length / ((tFirst - t0) / 1000),
          decode_tok_s: (count - 1) / ((tEnd - tFirst) / 1000),
        };
      } finally {
        seq.dispose();
      }
    };
    await once(promptIds.slice(0, 4), 2); // warm-up
    const r = await once(promptIds, decodeTokens + 1);
    return {
      ...r,
      pct_copy_bandwidth: ((bytesPerToken * r.decode_tok_s) / (copyGbps * 1e9)) * 100,
      backend,
      devices,
    };
  } finally {
    await ctx.dispose();
    await model.dispose();
    await llama.dispose();
  }
}

/** Runs both engines on the bench GGUF for `sizes` on `device`. */
export async function gpuCompare(
  device: GPUDevice,
  adapter: string,
  sizes: CompareSizes,
  smoke: boolean,
  log: (s: string) => void = (s) => console.error(s),
): Promise<GpuCompareResult> {
  const t0 = performance.now();
  const path = await gpuBenchModelPath(sizes.shape);
  log(`bench:gpu: model ${path} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const copyGbps = await copyBandwidth(device, sizes.copyBytes, sizes.copyIters);
  log(`bench:gpu: copy ${copyGbps.toFixed(1)} GB/s on ${adapter}`);
  const software = isCpuEmulatedAdapter(device);
  const d = await benchDecode(device, path, {
    decodeTokens: sizes.decodeTokens,
    prefillTokens: sizes.promptTokens,
    fuseKernels: !software,
    profile: false,
  });
  // Bytes a decode step must read: every weight once (the embedding is also the output matrix).
  const bytesPerToken = d.weights_bytes;
  const dure = {
    decode_tok_s: d.tok_s,
    prefill_tok_s: d.prefill_tok_s,
    pct_copy_bandwidth: ((bytesPerToken * d.tok_s) / (copyGbps * 1e9)) * 100,
    readbacks_per_token: d.readbacks_per_token,
    dispatches_per_token: d.dispatches_per_token,
  };
  log(
    `bench:gpu: Dure ${dure.decode_tok_s.toFixed(2)} tok/s decode, ${dure.prefill_tok_s.toFixed(1)} prefill`,
  );
  // The other side of the fused default, on the same device and model.
  const other = await benchDecode(device, path, {
    decodeTokens: sizes.decodeTokens,
    prefillTokens: sizes.promptTokens,
    fuseKernels: software,
    profile: false,
  });
  const [fused, separate] = software ? [other, d] : [d, other];
  const fusedVsSeparate = {
    fused_decode_tok_s: fused.tok_s,
    separate_decode_tok_s: separate.tok_s,
    fused_prefill_tok_s: fused.prefill_tok_s,
    separate_prefill_tok_s: separate.prefill_tok_s,
    decode_ratio: fused.tok_s / separate.tok_s,
  };
  log(`bench:gpu: fused ÷ separate decode ${fusedVsSeparate.decode_ratio.toFixed(2)}`);
  const vocab = d.vocab;
  const prompt = Array.from({ length: sizes.promptTokens }, (_, i) => (i * 7919 + 13) % vocab);
  const llama = await llamaCppFigures(
    path,
    prompt,
    sizes.decodeTokens,
    bytesPerToken,
    copyGbps,
    log,
    sizes.cpuThreads,
  ).catch((e: unknown) => ({ error: e instanceof Error ? e.message : String(e) }));
  return {
    adapter,
    software_adapter: software,
    dure,
    fused_vs_separate: fusedVsSeparate,
    llama_cpp: llama,
    ratio: 'decode_tok_s' in llama ? dure.decode_tok_s / llama.decode_tok_s : null,
    copy_gbps: copyGbps,
    model: {
      shape: sizes.shape.name,
      path,
      weights_bytes: d.weights_bytes,
      prompt_tokens: sizes.promptTokens,
      decode_tokens: sizes.decodeTokens,
    },
    smoke,
    date: new Date().toISOString(),
  };
}
