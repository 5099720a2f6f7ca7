/**
 * The CPU path, for browsers without a usable WebGPU: the same GGUF on llama.cpp compiled to
 * WebAssembly (wllama), behind the same `ChatEngine` interface as Dure's WebGPU engine, so the
 * widget cannot tell them apart.
 *
 * The wasm binary is bundled by Vite from the npm package and served from the portal's own
 * origin; wllama's CDN "compat" build is switched off so nothing else is ever contacted.
 */
import { Wllama, type WllamaChatMessage } from '@wllama/wllama/esm/index.js';
import wasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import type {
  ChatEngine,
  GenerateChunk,
  GenerateRequest,
  GenerateResult,
  LoadProgress,
  ModelInfo,
} from '../api.ts';
import { WasmEngineError } from './errors.ts';
import { StopFilter } from './stop-filter.ts';

export interface WllamaEngineOptions {
  /** Context window in tokens; small by default because the CPU path is for small models. */
  contextLength?: number;
  /** Threads (only with cross-origin isolation; otherwise wllama runs single-threaded). */
  threads?: number;
  /** Where the wasm binary is served; defaults to the copy Vite bundles. */
  wasmUrl?: string;
}

function wrap(e: unknown, what: string): WasmEngineError {
  if (e instanceof WasmEngineError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new WasmEngineError(`${what}: ${msg}`, { cause: e });
}

export class WllamaEngine implements ChatEngine {
  private wllama: Wllama | null = null;
  private info: ModelInfo | null = null;
  private busy = false;

  constructor(private readonly opts: WllamaEngineOptions = {}) {}

  /** @throws {WasmEngineError} when llama.cpp cannot load the file. */
  async load(model: Blob | ArrayBuffer | string, onProgress?: (p: LoadProgress) => void): Promise<ModelInfo> {
    await this.dispose();
    const blob =
      typeof model === 'string'
        ? await (await fetch(model)).blob()
        : model instanceof Blob
          ? model
          : new Blob([model]);
    onProgress?.({ phase: 'parse', loadedBytes: 0, totalBytes: blob.size });
    const w = new Wllama({ default: this.opts.wasmUrl ?? wasmUrl }, { suppressNativeLog: true });
    // The compat build lives on a CDN: never use it (a visitor's browser contacts only the portal).
    w.setCompat(null);
    try {
      await w.loadModel([blob], {
        n_ctx: this.opts.contextLength ?? 2048,
        n_threads: this.opts.threads ?? 1,
        n_gpu_layers: 0,
        n_parallel: 1,
      });
    } catch (e) {
      await w.exit().catch(() => undefined);
      throw wrap(e, 'llama.cpp (WebAssembly) could not load the model');
    }
    this.wllama = w;
    const ctx = w.getLoadedContextInfo();
    const meta = w.getModelMetadata().meta;
    this.info = {
      architecture: meta['general.architecture'] ?? 'unknown',
      name: meta['general.name'] ?? 'model',
      contextLength: ctx.n_ctx,
      parameters: 0,
      quantTypes: [],
      backend: 'wasm-cpu',
    };
    onProgress?.({ phase: 'ready', loadedBytes: blob.size, totalBytes: blob.size });
    return this.info;
  }

  /**
   * Streams one completion. Aborting `req.signal` ends the stream with `finishReason: 'abort'`.
   * @throws {WasmEngineError} when no model is loaded or llama.cpp fails.
   */
  async *generate(req: GenerateRequest): AsyncGenerator<GenerateChunk, GenerateResult, void> {
    const w = this.wllama;
    if (!w) throw new WasmEngineError('No model is loaded.');
    if (req.promptIds) throw new WasmEngineError('The WebAssembly path takes text prompts, not token ids.');
    if (this.busy) throw new WasmEngineError('A generation is already running on this engine.');
    this.busy = true;
    const local = new AbortController();
    const onAbort = () => local.abort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    const filter = new StopFilter(req.stop ?? []);
    const greedy = req.greedy || req.temperature === 0;
    const sampling = {
      temp: greedy ? 0 : (req.temperature ?? 0.7),
      top_k: greedy ? 1 : (req.topK ?? 40),
      top_p: req.topP ?? 0.95,
      min_p: req.minP ?? 0.05,
      penalty_repeat: req.repetitionPenalty ?? 1.0,
      seed: req.seed,
      max_tokens: req.maxTokens ?? 256,
      abortSignal: local.signal,
      stream: true as const,
      // llama.cpp's server-side stop check is passed through as JSON; StopFilter covers splits.
      ...(req.stop?.length ? { stop: req.stop } : {}),
    };
    let text = '';
    let completionTokens = 0;
    let promptTokens = 0;
    let finishReason: GenerateResult['finishReason'] = 'eos';
    try {
      const stream = req.messages
        ? await w.createChatCompletion({ ...sampling, messages: req.messages as WllamaChatMessage[] })
        : await w.createCompletion({ ...sampling, prompt: req.prompt ?? '' });
      for await (const chunk of stream) {
        if (req.signal?.aborted) break;
        const choice = chunk.choices[0];
        const piece =
          choice && 'delta' in choice
            ? (choice.delta.content ?? '')
            : choice && 'text' in choice
              ? choice.text
              : '';
        if (chunk.usage) {
          promptTokens = chunk.usage.prompt_tokens;
          completionTokens = chunk.usage.completion_tokens;
        } else if (piece) completionTokens++;
        if (choice?.finish_reason === 'length') finishReason = 'length';
        else if (choice?.finish_reason === 'stop' && req.stop?.length) finishReason = 'eos';
        const shown = filter.push(piece);
        if (shown) {
          text += shown;
          yield { text: shown, ids: [] };
        }
        if (filter.stopped) {
          finishReason = 'stop';
          local.abort();
          break;
        }
      }
      const tail = filter.flush();
      if (tail) {
        text += tail;
        yield { text: tail, ids: [] };
      }
      if (req.signal?.aborted) finishReason = 'abort';
    } catch (e) {
      if (req.signal?.aborted || (filter.stopped && local.signal.aborted)) {
        finishReason = req.signal?.aborted ? 'abort' : 'stop';
      } else throw wrap(e, 'llama.cpp (WebAssembly) failed while generating');
    } finally {
      req.signal?.removeEventListener('abort', onAbort);
      this.busy = false;
    }
    return { text, ids: [], finishReason, promptTokens, completionTokens };
  }

  async reset(): Promise<void> {
    // Each completion is stateless in wllama's OpenAI-style API; nothing is kept between calls.
  }

  async dispose(): Promise<void> {
    const w = this.wllama;
    this.wllama = null;
    this.info = null;
    if (w) await w.exit().catch(() => undefined);
  }
}
