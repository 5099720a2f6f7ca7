/**
 * Dure's WebGPU engine: GGUF → tokenizer → forward pass (WGSL) → sampler → text stream.
 * Platform-neutral: it takes a `GPUDevice` and a `ByteSource`; the browser worker and the Node CLI
 * are thin shells around it.
 *
 * Context handling (documented choice): a prompt longer than the context raises
 * `ContextOverflowError`; generation that reaches the end of the context stops with
 * finishReason 'length'. Consecutive requests reuse the KV cache for their common token prefix
 * (the turns of one conversation), so only new tokens are prefilled.
 */
import type {
  ChatEngine,
  ChatMessage,
  EngineAdapter,
  FinishReason,
  GenerateChunk,
  GenerateRequest,
  GenerateResult,
  LoadProgress,
  ModelInfo,
} from './api.ts';

import { isCpuEmulatedAdapter } from './gpu/device.ts';
import { DeviceWatch } from './gpu/device-watch.ts';
import { readGguf } from './gguf/reader.ts';
import { BlobSource, MemorySource, RangeSource } from './gguf/sources.ts';
import { GgmlType, type ByteSource, type GgufFile } from './gguf/types.ts';
import { modelConfig, type ModelConfig } from './model/config.ts';
import {
  ContextOverflowError,
  ForwardPass,
  forwardBytes,
  MAX_TOP_K,
  type DecodeDraw,
} from './model/forward.ts';
import { planWeights, uploadModelWeights, type ModelWeights } from './model/weights.ts';
import { encodeChat } from './chat-template/index.ts';
import { modelChatTemplate } from './chat-template/fallback.ts';
import { LORA_LIMITS, stackAdapters, validateAdapter } from './lora/adapter.ts';
import { LoraAdapterError } from './lora/errors.ts';
import { Sampler } from './sampler.ts';
import { createTokenizer, StreamingDecoder, type Tokenizer } from './tokenizer/index.ts';
import { ModelTooLargeError, EngineStateError, GpuDeviceLostError } from '../protocol/errors.ts';
export { ModelTooLargeError, EngineStateError, GpuDeviceLostError };

export interface EngineOptions {
  /** KV cache length; defaults to min(model context, 4096). */
  contextLength?: number;
  /** Prefill chunk size in tokens. */
  maxBatch?: number;
  /** Use subgroup reductions when the device has them (default: when available). */
  subgroups?: boolean;
  /**
   * KV cache element type. 'f16' halves its memory and attention's reads (packed pairs, so any
   * adapter runs it); logits then move ~3e-5 relative (2e-4 on gemma2; engine.test.ts 'f16 KV
   * cache' measures it). Default: 'f16' where the adapter has `shader-f16` (a real GPU,
   * where attention's reads matter), else 'f32'.
   */
  kvCacheType?: 'f32' | 'f16';
  /** GPU memory the engine may use; the load fails early, before big allocations, above it. */
  memoryBudgetBytes?: number;
  /**
   * Fused kernels (norm + q/k/v + RoPE + KV append; norm + gate/up + activation): 6 dispatches
   * per layer and decode step instead of 13. Default: on, except on CPU-emulated adapters (isCpuEmulatedAdapter),
   * where the separate kernels measure faster. With the GPU-shaped products (gpuMatmul) only
   * gate/up fuse, and only for steps below 8 tokens (ForwardPass: the fused q/k/v kernel launches
   * a workgroup per head, too few for a GPU; prefill goes through the tiled GEMM).
   */
  fuseKernels?: boolean;
  /**
   * The GPU-shaped weight products (decode GEMV, tiled GEMM for 8+ tokens) instead of the
   * register-tile kernel for every batch. Default: on, except on CPU-emulated adapters, whose
   * compile time grows with workgroup memory (OpsOptions.gpuMatmul). Tests force it on.
   */
  gpuMatmul?: boolean;
  /**
   * f16 arithmetic in the prefill products when the device has `shader-f16` (default: when it
   * has); decode stays f32. Logits then differ from the f32 path by ~1e-3 relative.
   */
  shaderF16?: boolean;
  /**
   * A new device after the current one is lost (driver reset, GPU process crash, an uncaptured
   * internal error). With it the engine rebuilds pipelines and weights on the new device (weights
   * re-read from the model's source) and a generation in flight continues from its token history;
   * without it a loss ends the generation with GpuDeviceLostError.
   */
  recoverDevice?: () => Promise<GPUDevice>;
}

/**
 * A second device loss within this many tokens of the last recovery is not retried: a device that
 * keeps failing (a driver that resets on Dure's kernels) would otherwise loop forever.
 */
export const RECOVERY_MIN_TOKENS = 16;

interface Loaded {
  file: GgufFile;
  cfg: ModelConfig;
  tokenizer: Tokenizer;
  weights: ModelWeights;
  forward: ForwardPass;
  info: ModelInfo;
}

const MiB = 1024 * 1024;

export class WebGpuEngine implements ChatEngine {
  #model: Loaded | undefined;
  /** Tokens whose keys/values sit in the KV cache at positions 0..n-1. */
  #cached: number[] = [];
  /**
   * Serialises everything that touches the model: load, dispose, generate, logits, adapters.
   * Two generations run one after the other, in call order; a dispose aborts the generation in
   * flight at its next token (finishReason 'abort'), then frees the model.
   */
  #queue: Promise<unknown> = Promise.resolve();
  #adapters: string[] = [];
  /** The stacked adapters in use, re-applied after a device loss. */
  #stacked: ReturnType<typeof stackAdapters> = [];
  /** Set by dispose() until it has run: generations queued before it stop at their next token. */
  #stopRequests = 0;
  #watch: DeviceWatch;
  /** Tokens generated since the last device recovery (Infinity: none yet). */
  #sinceRecovery = Infinity;
  /** Device losses recovered from (for diagnostics and tests). */
  recoveries = 0;

  constructor(
    device: GPUDevice,
    readonly opts: EngineOptions = {},
  ) {
    this.#watch = new DeviceWatch(device);
  }

  get device(): GPUDevice {
    return this.#watch.device;
  }

  get model(): Readonly<Loaded> {
    if (!this.#model) throw new EngineStateError('no model is loaded');
    return this.#model;
  }

  /** @throws {import('./errors.ts').DureError} subclasses: corrupt GGUF, unsupported architecture/type, model too large. */
  async load(
    model: Blob | ArrayBuffer | string | ByteSource,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<ModelInfo> {
    // A URL is read by HTTP Range (whole only from a server without Range), a Blob by slices, an ArrayBuffer through views: never a whole copy.
    const source: ByteSource =
      typeof model === 'string'
        ? await RangeSource.openOrWhole(model)
        : model instanceof ArrayBuffer
          ? new MemorySource(new Uint8Array(model))
          : typeof Blob !== 'undefined' && model instanceof Blob
            ? new BlobSource(model)
            : (model as ByteSource);
    return this.loadSource(source, onProgress);
  }

  /** Waits for the generation in flight (a load is queued behind it, never interleaved). */
  async loadSource(source: ByteSource, onProgress?: (p: LoadProgress) => void): Promise<ModelInfo> {
    return this.#exclusive(async () => {
      try {
        return await this.#loadSource(source, onProgress);
      } catch (e) {
        // The engine owns the source from here (it closes it on dispose): a load that fails
        // closes it too, so a refused model file does not hold a file handle until GC.
        await source.close?.().catch(() => {});
        throw e;
      }
    });
  }

  async #loadSource(source: ByteSource, onProgress?: (p: LoadProgress) => void): Promise<ModelInfo> {
    await this.#release();
    await this.#recoverIfLost();
    const total = source.size;
    onProgress?.({ phase: 'parse', loadedBytes: 0, totalBytes: total });
    const file = await readGguf(source);
    const cfg = modelConfig(file);
    const tokenizer = createTokenizer(file.metadata);
    const plan = planWeights(cfg, file);
    const contextLength = Math.min(this.opts.contextLength ?? 4096, cfg.contextLength);
    const maxBatch = this.opts.maxBatch ?? 64;
    const kvF16 =
      (this.opts.kvCacheType ?? (this.device.features.has('shader-f16') ? 'f16' : 'f32')) === 'f16';
    const need = plan.bytes + forwardBytes(cfg, { contextLength, maxBatch, kvF16 });
    const lim = this.device.limits;
    const kvLayer = contextLength * cfg.nKv * cfg.headDim * (kvF16 ? 2 : 4);
    if (kvLayer > lim.maxStorageBufferBindingSize) {
      throw new ModelTooLargeError(
        `a layer's KV cache needs ${(kvLayer / MiB).toFixed(1)} MiB but the device binds at most ` +
          `${(lim.maxStorageBufferBindingSize / MiB).toFixed(1)} MiB; use a shorter contextLength`,
      );
    }
    if (this.opts.memoryBudgetBytes !== undefined && need > this.opts.memoryBudgetBytes) {
      throw new ModelTooLargeError(
        `the model needs ${(need / MiB).toFixed(1)} MiB of GPU memory (weights ${(plan.bytes / MiB).toFixed(1)} MiB + ` +
          `KV cache and activations) but the budget is ${(this.opts.memoryBudgetBytes / MiB).toFixed(1)} MiB`,
      );
    }
    const { weights, forward } = await this.#build(file, cfg, { contextLength, maxBatch, kvF16, need }, (p) =>
      onProgress?.({ ...p, totalBytes: total }),
    );
    const quantTypes = [...new Set(file.tensors.map((t) => GgmlType[t.type] ?? String(t.type)))];
    const license = file.metadata.get('general.license')?.value;
    const info: ModelInfo = {
      architecture: cfg.arch,
      name: cfg.name,
      ...(typeof license === 'string' ? { license } : {}),
      contextLength,
      parameters: file.tensors.reduce((s, t) => s + t.elements, 0),
      quantTypes,
      backend: 'webgpu',
    };
    this.#model = { file, cfg, tokenizer, weights, forward, info };
    this.#cached = [];
    this.#adapters = [];
    this.#stacked = [];
    onProgress?.({ phase: 'ready', loadedBytes: total, totalBytes: total });
    return info;
  }

  /** Weights and forward pass of a parsed model on the current device (load and device recovery). */
  async #build(
    file: GgufFile,
    cfg: ModelConfig,
    o: { contextLength: number; maxBatch: number; kvF16: boolean; need: number },
    onProgress?: (p: Omit<LoadProgress, 'totalBytes'>) => void,
  ): Promise<{ weights: ModelWeights; forward: ForwardPass }> {
    const device = this.device;
    const subgroups = (this.opts.subgroups ?? true) && device.features.has('subgroups');
    device.pushErrorScope('out-of-memory');
    let weights: ModelWeights | undefined;
    let forward: ForwardPass | undefined;
    try {
      weights = await uploadModelWeights(device, cfg, file, (loaded) =>
        onProgress?.({ phase: 'upload', loadedBytes: loaded }),
      );
      onProgress?.({ phase: 'compile', loadedBytes: file.source.size });
      forward = await ForwardPass.create(device, cfg, weights, {
        contextLength: o.contextLength,
        maxBatch: o.maxBatch,
        subgroups,
        kvF16: o.kvF16,
        fused: this.opts.fuseKernels ?? !isCpuEmulatedAdapter(device),
        gpuMatmul: this.opts.gpuMatmul,
        f16: (this.opts.shaderF16 ?? true) && device.features.has('shader-f16'),
      });
    } finally {
      const oom = await device.popErrorScope();
      if (oom) {
        forward?.destroy();
        weights?.destroy();
        // eslint-disable-next-line no-unsafe-finally
        throw new ModelTooLargeError(
          `the GPU ran out of memory loading a model that needs ${(o.need / MiB).toFixed(1)} MiB: ${oom.message}`,
        );
      }
    }
    return { weights: weights!, forward: forward! };
  }

  /** Token ids for a request's prompt (chat template applied for messages). */
  promptIds(req: Pick<GenerateRequest, 'messages' | 'prompt' | 'promptIds'>): number[] {
    const { tokenizer, file } = this.model;
    if (req.promptIds) return [...req.promptIds];
    if (req.messages) {
      // Without a template in the file, ChatML, as llama.cpp falls back to.
      const template = modelChatTemplate(file.metadata);
      // Templates write BOS themselves where the model wants it. encodeChat parses the template's
      // special tokens but not the users': typing "<|im_end|>" cannot forge a turn boundary.
      return encodeChat(template, tokenizer, { messages: req.messages as ChatMessage[] }, { addBos: false });
    }
    return tokenizer.encode(req.prompt ?? '', { addBos: tokenizer.shouldAddBos, parseSpecial: false });
  }

  /** Prompt tokens of `messages` with the chat template, exactly as `generate` feeds them. */
  async countTokens(messages: ChatMessage[]): Promise<number> {
    return this.promptIds({ messages }).length;
  }

  /** Logits of the last prompt position (for agreement tests and the `logits` CLI). */
  async logits(promptIds: number[]): Promise<Float32Array> {
    return this.#exclusive(async () => {
      await this.#prefill(promptIds);
      const start = Math.max(0, promptIds.length - 1);
      const last = await this.#surviving(promptIds, () =>
        this.model.forward.runLogits(Uint32Array.of(promptIds[start] as number), start),
      );
      this.#cached = [...promptIds];
      return last;
    });
  }

  /**
   * The step-by-step path for a draw over the whole vocabulary (top-k off or above MAX_TOP_K):
   * every logit comes back and the CPU sampler applies the penalty and draws.
   */
  async #sampleOnCpu(
    sampler: Sampler,
    one: Uint32Array,
    pos: number,
    recent: readonly number[],
  ): Promise<number> {
    return sampler.sample(await this.model.forward.runLogits(one, pos), recent.slice(-64));
  }

  /**
   * How the GPU token loop draws for this request, or undefined when the draw needs the whole
   * vocabulary on the CPU (top-k off or above MAX_TOP_K): that path reads back every step's
   * logits and runs step by step.
   */
  #gpuDraw(sampler: Sampler, penalty: number): DecodeDraw | undefined {
    const k = sampler.greedy ? 1 : sampler.candidateCount;
    if (k === undefined || k > MAX_TOP_K) return undefined;
    const o = sampler.opts;
    return {
      greedy: sampler.greedy,
      k,
      temperature: o.temperature ?? 0.7,
      topP: o.topP ?? 1,
      minP: o.minP ?? 0,
      penalty,
    };
  }

  /** One generation at a time: the lock is taken when iteration starts and released in finally. */
  async *generate(req: GenerateRequest): AsyncGenerator<GenerateChunk, GenerateResult, void> {
    let release!: () => void;
    const turn = new Promise<void>((r) => (release = r));
    const prev = this.#queue;
    this.#queue = prev.then(() => turn);
    await prev;
    try {
      return yield* this.#generate(req);
    } finally {
      release();
    }
  }

  async *#generate(req: GenerateRequest): AsyncGenerator<GenerateChunk, GenerateResult, void> {
    const { tokenizer, info } = this.model;
    const prompt = this.promptIds(req);
    if (prompt.length === 0) throw new EngineStateError('the prompt is empty');
    if (prompt.length >= info.contextLength) {
      throw new ContextOverflowError(
        `the prompt has ${prompt.length} tokens; the context holds ${info.contextLength}`,
      );
    }
    const sampler = new Sampler(req);
    const maxTokens = req.maxTokens ?? 256;
    const stops = (req.stop ?? []).filter((s) => s.length > 0);
    const decoder = new StreamingDecoder(tokenizer);
    const ids: number[] = [];
    let text = '';
    let emitted = 0;
    let finish: FinishReason = 'length';

    // Prefill all but the last prompt token; the last one produces the first sample.
    await this.#prefill(prompt);
    const penalty = req.repetitionPenalty ?? 1;
    const draw = this.#gpuDraw(sampler, penalty);
    const p0 = prompt.length - 1;
    const recent = [...prompt];
    /** The token step i runs: the last prompt token, then each sampled one. */
    const fed = (i: number) => (i === 0 ? prompt[p0] : ids[i - 1]) as number;
    const distinct = (window: number[]) => Uint32Array.from(new Set(window));
    // Step i runs fed(i) at position p0 + i and samples token i. On the GPU path step i+1 is
    // submitted before token i is read back: the GPU takes its input from step i's output.
    const submit = (i: number, ahead: boolean): Promise<number> => {
      if (!draw) return this.#sampleOnCpu(sampler, Uint32Array.of(fed(i)), p0 + i, recent);
      // Ahead, the fed token is still on the GPU: the penalty window holds the 63 known tokens
      // and the GPU appends the fed one.
      const window = penalty === 1 ? undefined : distinct(recent.slice(ahead ? -63 : -64));
      const rand = draw.greedy ? 0 : sampler.nextRandom();
      return this.model.forward.decodeStep(ahead ? 'previous' : fed(i), p0 + i, draw, rand, window);
    };
    let ahead: Promise<number> | undefined;
    try {
      // On abort, stop or error the cache still holds exactly #cached: a step run ahead wrote
      // position p0 + i + 1, beyond it, and the next request overwrites that entry.
      for (let i = 0; ; i++) {
        if (i >= maxTokens) break;
        if (req.signal?.aborted || this.#stopRequests > 0) {
          finish = 'abort';
          break;
        }
        if (p0 + i >= info.contextLength) {
          finish = 'length';
          break;
        }
        const current = ahead ?? submit(i, false);
        ahead = undefined;
        if (draw && i + 1 < maxTokens && p0 + i + 1 < info.contextLength && !req.signal?.aborted)
          ahead = submit(i + 1, true);
        let token: number;
        try {
          token = await current;
        } catch (e) {
          // A lost device (./gpu/device-watch.ts): the step run ahead is lost with it. Rebuild on a
          // new device, prefill the history and run step i again from its known input.
          await ahead?.catch(() => undefined);
          ahead = undefined;
          if (!(await this.#watch.lostAfter())) throw e;
          const history = [...this.#cached.slice(0, p0 + i), fed(i)];
          await this.#recoverIfLost();
          this.#cached = [];
          await this.#prefill(history);
          token = await this.#surviving(history, () => submit(i, false));
        }
        this.#sinceRecovery++;
        this.#cached.length = p0 + i;
        this.#cached.push(fed(i));
        if (tokenizer.isEog(token)) {
          finish = 'eos';
          break;
        }
        ids.push(token);
        recent.push(token);
        // The decoder holds back an incomplete UTF-8 sequence (a Hangul syllable split across tokens).
        text += decoder.push(token);
        const hit = firstStop(text, stops);
        if (hit >= 0) {
          text = text.slice(0, hit);
          finish = 'stop';
          break;
        }
        // Hold back a tail that could still become a stop string.
        const safe = text.length - holdBack(text, stops);
        if (safe > emitted) {
          yield { text: text.slice(emitted, safe), ids: [token] };
          emitted = safe;
        }
      }
    } finally {
      // The step run ahead of a stop is discarded (its token never reaches the stream), but its
      // readback must finish before the slots are used again.
      await ahead?.catch(() => undefined);
    }
    if (finish !== 'stop') text += decoder.flush();
    if (text.length > emitted) yield { text: text.slice(emitted), ids: [] };
    return {
      text,
      ids,
      finishReason: finish,
      promptTokens: prompt.length,
      completionTokens: ids.length,
    };
  }

  /**
   * Feeds prompt[reuse .. n-2], reusing the cached prefix; the caller runs the last token itself,
   * since that run is the one whose output it wants.
   */
  async #prefill(prompt: number[]): Promise<void> {
    const { forward } = this.model;
    const end = Math.max(0, prompt.length - 1);
    let reuse = 0;
    while (reuse < this.#cached.length && reuse < end && this.#cached[reuse] === prompt[reuse]) reuse++;
    this.#cached.length = reuse;
    const batch = forward.opts.maxBatch;
    for (let p = reuse; p < end; p += batch) {
      const chunk = prompt.slice(p, Math.min(end, p + batch));
      forward.run(Uint32Array.from(chunk), p);
      this.#cached.push(...chunk);
    }
  }

  /**
   * Runs a step whose input is `history` (all tokens up to and including the fed one). If the
   * device was lost meanwhile, rebuilds the engine on a new device, prefills all of `history` but
   * its last token and runs the step again: greedy output is then the same as without the loss.
   * @throws {GpuDeviceLostError} without opts.recoverDevice, when getting a device fails, or on
   *   a second loss within RECOVERY_MIN_TOKENS tokens of the last recovery.
   */
  async #surviving<T>(history: number[], step: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await step();
      } catch (e) {
        if (!(await this.#watch.lostAfter())) throw e;
      }
      await this.#recoverIfLost();
      this.#cached = [];
      await this.#prefill(history);
    }
  }

  /** After a device loss: a new device and the loaded model rebuilt on it (KV cache empty). */
  async #recoverIfLost(): Promise<void> {
    const lost = this.#watch.lost;
    if (!lost) return;
    if (!this.opts.recoverDevice)
      throw new GpuDeviceLostError(
        `the GPU device was lost (${lost}) and the engine was given no way to get another`,
      );
    if (this.#sinceRecovery < RECOVERY_MIN_TOKENS)
      throw new GpuDeviceLostError(
        `the GPU device was lost again ${this.#sinceRecovery} tokens after the last recovery (${lost})`,
      );
    const m = this.#model;
    try {
      this.#watch = new DeviceWatch(await this.opts.recoverDevice());
      this.#cached = [];
      if (m) {
        // The old buffers belong to the lost device; destroying them only drops our references.
        m.forward.destroy();
        m.weights.destroy();
        const o = m.forward.opts;
        const rebuilt = await this.#build(m.file, m.cfg, {
          contextLength: o.contextLength,
          maxBatch: o.maxBatch,
          kvF16: !!o.kvF16,
          need: 0,
        });
        this.#model = { ...m, ...rebuilt };
        if (this.#stacked.length) await rebuilt.forward.setLora(this.#stacked);
      }
    } catch (cause) {
      if (cause instanceof GpuDeviceLostError) throw cause;
      throw new GpuDeviceLostError(`the GPU device was lost (${lost}) and rebuilding on a new one failed`, {
        cause,
      });
    }
    this.#sinceRecovery = 0;
    this.recoveries++;
  }

  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.#queue;
    let release!: () => void;
    this.#queue = prev.then(() => new Promise<void>((r) => (release = r)));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Applies LoRA adapters (PEFT names; stacked when several) on top of the loaded base weights, or
   * the base model alone for an empty list. Everything is validated before anything changes; the
   * base weights stay on the GPU, only the adapters' small matrices are (re)built, and the KV
   * prefix cache is dropped because it holds keys/values computed with the previous adapters.
   * Runs between generations (it waits for the current one).
   * @throws {LoraAdapterError} for a malformed adapter or one that does not fit the model.
   * @throws {EngineStateError} when no model is loaded.
   * @throws {ModelTooLargeError} when the GPU runs out of memory for the adapters (the base model stays).
   */
  async setAdapters(adapters: EngineAdapter[]): Promise<void> {
    await this.#exclusive(async () => {
      const { cfg, forward } = this.model;
      if (!Array.isArray(adapters)) throw new LoraAdapterError('setAdapters expects an array of adapters');
      if (adapters.length > LORA_LIMITS.maxAdapters)
        throw new LoraAdapterError(
          `at most ${LORA_LIMITS.maxAdapters} adapters at once, got ${adapters.length}`,
        );
      const names = new Set<string>();
      const valid = adapters.map((a) => {
        if (names.has(a.name)) throw new LoraAdapterError(`two adapters are named ${JSON.stringify(a.name)}`);
        names.add(a.name);
        return validateAdapter(a.name, a.lora, cfg, a.scale ?? 1);
      });
      const stacked = stackAdapters(valid, cfg);
      const maxBinding = this.device.limits.maxStorageBufferBindingSize;
      for (const s of stacked) {
        if (Math.max(s.a.byteLength, s.b.byteLength) > maxBinding)
          throw new LoraAdapterError(
            `the adapters' stacked rank ${s.rank} for layer ${s.layer} ${s.module} needs more than the ` +
              `device's ${maxBinding}-byte storage binding; use fewer or smaller adapters`,
          );
      }
      // Whatever happens next, cached keys/values may no longer match the weights in use.
      this.#cached = [];
      this.device.pushErrorScope('out-of-memory');
      let oom: GPUError | null = null;
      try {
        await forward.setLora(stacked);
      } finally {
        oom = await this.device.popErrorScope();
      }
      if (oom) {
        // Back to the base model rather than half-built adapter buffers.
        await forward.setLora([]);
        this.#adapters = [];
        this.#stacked = [];
        throw new ModelTooLargeError(`the GPU ran out of memory for the adapters: ${oom.message}`);
      }
      this.#adapters = valid.map((v) => v.name);
      this.#stacked = stacked;
    });
  }

  /** Names of the adapters in use (empty: the base model). */
  get adapters(): readonly string[] {
    return this.#adapters;
  }

  async reset(): Promise<void> {
    await this.#exclusive(async () => {
      this.#cached = [];
    });
  }

  /**
   * Frees the model. Waits for the request in flight, and makes a generation in flight (or queued
   * before this call) stop at its next token with finishReason 'abort', so nothing runs on freed
   * buffers. A generator its caller stops iterating without return() keeps the engine waiting.
   */
  async dispose(): Promise<void> {
    this.#stopRequests++;
    try {
      await this.#exclusive(() => this.#release());
    } finally {
      this.#stopRequests--;
    }
  }

  async #release(): Promise<void> {
    const m = this.#model;
    this.#model = undefined;
    this.#cached = [];
    if (m) {
      m.forward.destroy();
      m.weights.destroy();
      await m.file.source.close?.();
    }
  }
}

function firstStop(text: string, stops: string[]): number {
  let best = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
function holdBack(text: string, stops: string[]): number {
  let n = 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > n; k--) {
      if (text.endsWith(s.slice(0, k))) {
        n = k;
        break;
      }
    }
  }
  return n;
}
