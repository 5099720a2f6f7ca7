/**
 * The page side of the inference worker: a `ChatEngine` that UI code cannot tell apart from the
 * in-worker engine. Chunks arrive through a proxied callback and are turned back into an async
 * iterator; an AbortSignal becomes `abort(id)` in the worker. `InferenceWorkerApi` is the contract
 * workers/inference.worker.ts implements; the worker itself is started by the caller
 * (workers/spawn.ts), so this layer never names a worker file.
 */
import * as Comlink from 'comlink';
import type {
  ChatEngine,
  ChatMessage,
  EngineAdapter,
  GenerateChunk,
  GenerateRequest,
  GenerateResult,
  LoadProgress,
  ModelInfo,
} from './api.ts';
import type { EngineOptions } from './engine.ts';
import { unwrapOutcome as unwrap, type Outcome } from './errors.ts';

/** What the inference worker answers; every call that can fail returns an `Outcome`. */
export interface InferenceWorkerApi {
  load(
    model: Blob | ArrayBuffer | string,
    options: EngineOptions,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<Outcome<ModelInfo>>;
  generate(
    id: string,
    req: Omit<GenerateRequest, 'signal'>,
    onChunk: (c: GenerateChunk) => void,
  ): Promise<Outcome<GenerateResult>>;
  /** Prompt tokens of `messages` (chat template applied), as `generate` counts them. */
  countTokens(messages: ChatMessage[]): Promise<Outcome<number>>;
  /** Cancels request `id` (also when it has not started yet). */
  abort(id: string): void;
  reset(): Promise<void>;
  setAdapters(adapters: EngineAdapter[]): Promise<Outcome<void>>;
  dispose(): Promise<void>;
}

let counter = 0;

export class WorkerEngine implements ChatEngine {
  readonly #worker: Worker;
  readonly #api: Comlink.Remote<InferenceWorkerApi>;

  /** @param worker a started inference worker (`spawnInferenceWorker()` from workers/spawn.ts). */
  constructor(
    readonly options: EngineOptions,
    worker: Worker,
  ) {
    this.#worker = worker;
    this.#api = Comlink.wrap<InferenceWorkerApi>(this.#worker);
  }

  async load(model: Blob | ArrayBuffer | string, onProgress?: (p: LoadProgress) => void): Promise<ModelInfo> {
    const cb = onProgress ? Comlink.proxy(onProgress) : undefined;
    return unwrap(await this.#api.load(model, this.options, cb));
  }

  generate(req: GenerateRequest): AsyncGenerator<GenerateChunk, GenerateResult, void> {
    const api = this.#api;
    const id = `req-${++counter}`;
    const { signal, ...rest } = req;
    return (async function* () {
      const queue: GenerateChunk[] = [];
      let wake: (() => void) | undefined;
      const onChunk = Comlink.proxy((c: GenerateChunk) => {
        queue.push(c);
        wake?.();
      });
      const onAbort = () => void api.abort(id);
      signal?.addEventListener('abort', onAbort);
      if (signal?.aborted) onAbort();
      let settled: Outcome<GenerateResult> | undefined;
      const done = api.generate(id, rest, onChunk).then((o) => {
        settled = o;
        wake?.();
      });
      try {
        for (;;) {
          while (queue.length) yield queue.shift() as GenerateChunk;
          if (settled) break;
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
        await done;
        while (queue.length) yield queue.shift() as GenerateChunk;
        return unwrap(settled as Outcome<GenerateResult>);
      } finally {
        signal?.removeEventListener('abort', onAbort);
        // Stopping iteration early (break in for-await) cancels the request in the worker.
        if (!settled) void api.abort(id);
      }
    })();
  }

  async countTokens(messages: ChatMessage[]): Promise<number> {
    return unwrap(await this.#api.countTokens(messages.map((m) => ({ role: m.role, content: m.content }))));
  }

  async reset(): Promise<void> {
    await this.#api.reset();
  }

  /**
   * Hot-swaps LoRA adapters in the worker. The tensors' ArrayBuffers are transferred, not copied:
   * after the call the caller's Float32Arrays are detached (empty); keep a copy if you need them.
   * @throws {import('./lora/errors.ts').LoraAdapterError} when an adapter does not fit the model.
   */
  async setAdapters(adapters: EngineAdapter[]): Promise<void> {
    const buffers = new Set<ArrayBuffer>();
    for (const a of adapters) {
      for (const t of a.lora.tensors.values()) {
        if (t.buffer instanceof ArrayBuffer && t.buffer.byteLength > 0) buffers.add(t.buffer);
      }
    }
    unwrap(await this.#api.setAdapters(Comlink.transfer(adapters, [...buffers])));
  }

  async dispose(): Promise<void> {
    await this.#api.dispose();
    this.#api[Comlink.releaseProxy]();
    this.#worker.terminate();
  }
}
