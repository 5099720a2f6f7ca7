/**
 * The CPU path, for browsers without a usable WebGPU: the same GGUF on llama.cpp compiled to
 * WebAssembly (wllama), behind the same `ChatEngine` interface as Dure's WebGPU engine, so the
 * widget cannot tell them apart.
 *
 * The wasm binary is bundled by Vite from the npm package and served beside Dure's own scripts
 * (resolved against this module's URL, not the page's, so it is found wherever `dure-chat.js` is
 * served from); wllama's CDN "compat" build is switched off so nothing else is ever contacted.
 * Loading is bounded: the wasm is checked before llama.cpp starts (a missing or wrong file would
 * otherwise leave wllama waiting forever), and a load that does not finish in time ends its worker.
 */
import {
  Wllama,
  type ChatCompletionChunk,
  type RawCompletionChunk,
  type WllamaChatMessage,
} from '@wllama/wllama/esm/index.js';
import wasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import type {
  ChatEngine,
  ChatMessage,
  GenerateChunk,
  GenerateRequest,
  GenerateResult,
  LoadProgress,
  ModelInfo,
} from '../api.ts';
import type { ChatTokenCounter } from '../chat-tokens.ts';
import { WasmEngineError } from './errors.ts';
import { StopFilter } from './stop-filter.ts';
import { withoutReplacementChars } from '../tokenizer/streaming-decoder.ts';
import { requestStream } from './request-stream.ts';
import { GGUF_MAGIC } from '../gguf/reader.ts';
import { GgufBadMagicError } from '../gguf/errors.ts';

export interface WllamaEngineOptions {
  /** Context window in tokens; small by default because the CPU path is for small models. */
  contextLength?: number;
  /** Threads (only with cross-origin isolation; otherwise wllama runs single-threaded). */
  threads?: number;
  /** Where the wasm binary is served (relative: against the page); defaults to the copy Vite bundles. */
  wasmUrl?: string;
  /** Gives up loading after this long (default: a minute plus a second per 2 MB of model). */
  loadTimeoutMs?: number;
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** The wasm Vite bundled, resolved against this module (the Dure host), never the portal page. */
export function bundledWasmUrl(): string {
  return new URL(wasmUrl, import.meta.url).href;
}

/**
 * Checks that `url` answers with a WebAssembly module (its first bytes), so a missing file, a
 * portal's HTML 404 page or a refused cross-origin request becomes a clear error at once.
 * @throws {WasmEngineError} naming the URL and what to fix.
 */
export async function checkWasm(url: string, fetchFn: typeof fetch = fetch): Promise<void> {
  const fail = (why: string, cause?: unknown) =>
    new WasmEngineError(
      `CPU 실행 파일(WebAssembly)을 불러오지 못했습니다: ${url} (${why}). dure-chat.js 옆의 assets/ 폴더를 함께 올렸는지, ` +
        `다른 주소에서 불러온다면 그 서버가 CORS 헤더(Access-Control-Allow-Origin)를 보내는지 확인해 주세요. / ` +
        `Could not load the CPU engine's WebAssembly from ${url} (${why}). Serve the whole build (assets/ beside ` +
        `dure-chat.js), and when the page is on another origin, send CORS headers (Access-Control-Allow-Origin) for it.`,
      cause === undefined ? undefined : { cause },
    );
  let res: Response;
  try {
    res = await fetchFn(url, { headers: { Range: 'bytes=0-7' }, credentials: 'same-origin' });
  } catch (e) {
    throw fail(`network or CORS: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  if (!res.ok) throw fail(`HTTP ${res.status}`);
  const reader = res.body?.getReader();
  let head = new Uint8Array(0);
  try {
    while (reader && head.byteLength < 4) {
      const { done, value } = await reader.read();
      if (done) break;
      const next = new Uint8Array(head.byteLength + value.byteLength);
      next.set(head);
      next.set(value, head.byteLength);
      head = next;
    }
  } finally {
    await reader?.cancel().catch(() => undefined);
  }
  if (!WASM_MAGIC.every((b, i) => head[i] === b))
    throw fail(`not a WebAssembly file (${res.headers.get('content-type') ?? 'no content-type'})`);
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
  private blob: Blob | null = null;
  private counter: Promise<ChatTokenCounter> | null = null;

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
    // A server that answers a missing file with its HTML page (status 200) must not end in "ready":
    // llama.cpp would only fail later, or the widget would fall through with no model.
    const head = new DataView(await blob.slice(0, 4).arrayBuffer());
    if (head.byteLength < 4 || head.getUint32(0, true) !== GGUF_MAGIC)
      throw new GgufBadMagicError('not a GGUF file: the first four bytes are not "GGUF"');
    const wasm = this.opts.wasmUrl ? new URL(this.opts.wasmUrl, location.href).href : bundledWasmUrl();
    await checkWasm(wasm);
    const w = new Wllama({ default: wasm }, { suppressNativeLog: true });
    // The compat build lives on a CDN: never use it (a visitor's browser contacts only the portal).
    w.setCompat(null);
    const limit = this.opts.loadTimeoutMs ?? 60_000 + Math.ceil(blob.size / 2_000_000) * 1000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        w.loadModel([blob], {
          n_ctx: this.opts.contextLength ?? 2048,
          n_threads: this.opts.threads ?? 1,
          n_gpu_layers: 0,
          n_parallel: 1,
        }),
        // wllama waits forever when its worker aborts during start-up (an unreadable wasm, memory).
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new WasmEngineError(
                  `CPU(WebAssembly)에서 모델을 ${Math.round(limit / 1000)}초 안에 불러오지 못했습니다. 페이지를 새로 고쳐 다시 시도해 주세요. / ` +
                    `llama.cpp (WebAssembly) did not load the model within ${Math.round(limit / 1000)} s. Reload the page and try again.`,
                ),
              ),
            limit,
          );
        }),
      ]);
    } catch (e) {
      await w.exit().catch(() => undefined);
      throw wrap(
        e,
        'CPU(WebAssembly)에서 모델을 불러오지 못했습니다 / llama.cpp (WebAssembly) could not load the model',
      );
    } finally {
      clearTimeout(timer);
    }
    this.wllama = w;
    this.blob = blob;
    const ctx = w.getLoadedContextInfo();
    const meta = w.getModelMetadata().meta;
    this.info = {
      architecture: meta['general.architecture'] ?? 'unknown',
      name: meta['general.name'] ?? 'model',
      ...(meta['general.license'] ? { license: meta['general.license'] } : {}),
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
      const messages = req.messages as WllamaChatMessage[] | undefined;
      const stream = requestStream<ChatCompletionChunk | RawCompletionChunk>(
        (onData) =>
          messages
            ? w.createChatCompletion({ ...sampling, messages, onData })
            : w.createCompletion({ ...sampling, prompt: req.prompt ?? '', onData }),
        local.signal,
      );
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
        const shown = filter.push(withoutReplacementChars(piece));
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
      } else
        throw wrap(
          e,
          'CPU(WebAssembly)에서 답변을 만들다 멈췄습니다 / llama.cpp (WebAssembly) failed while generating',
        );
    } finally {
      req.signal?.removeEventListener('abort', onAbort);
      this.busy = false;
    }
    return { text, ids: [], finishReason, promptTokens, completionTokens };
  }

  /**
   * Prompt tokens of `messages`. wllama cannot tokenize on request, so the GGUF's own tokenizer and
   * chat template are read from the file's header (on first use; a separate chunk).
   * @throws {WasmEngineError} when no model is loaded or its tokenizer cannot be read.
   */
  async countTokens(messages: ChatMessage[]): Promise<number> {
    const blob = this.blob;
    if (!blob) throw new WasmEngineError('No model is loaded.');
    this.counter ??= import('../chat-tokens.ts').then((m) => m.chatTokenCounter(blob, { addBos: true }));
    try {
      return (await this.counter)(messages);
    } catch (e) {
      this.counter = null;
      throw wrap(e, 'could not count the prompt tokens');
    }
  }

  async reset(): Promise<void> {
    // Each completion is stateless in wllama's OpenAI-style API; nothing is kept between calls.
  }

  async dispose(): Promise<void> {
    const w = this.wllama;
    this.wllama = null;
    this.info = null;
    this.blob = null;
    this.counter = null;
    if (w) await w.exit().catch(() => undefined);
  }
}
