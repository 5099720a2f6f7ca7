/// <reference lib="webworker" />
/**
 * The inference worker: Dure's WebGPU engine behind comlink, so the page never blocks on loading,
 * prefill or decode. Streamed chunks go back through a proxied callback tagged by request id;
 * cancellation is per request (`abort(id)` → that request's AbortController); errors cross as data.
 */
import * as Comlink from 'comlink';
import type {
  ChatMessage,
  EngineAdapter,
  GenerateChunk,
  GenerateRequest,
  GenerateResult,
  LoadProgress,
  ModelInfo,
} from '../src/engine/api.ts';
import { EngineStateError, WebGpuEngine, type EngineOptions } from '../src/engine/engine.ts';
import { settle as attempt, type Outcome } from '../src/engine/errors.ts';
import { requestBestDevice } from '../src/engine/gpu/device.ts';
import type { InferenceWorkerApi } from '../src/engine/worker-client.ts';

let engine: WebGpuEngine | undefined;
const controllers = new Map<string, AbortController>();
/** Aborts that arrived before their request started (an already-aborted signal on the page). */
const earlyAborts = new Set<string>();

const api: InferenceWorkerApi = {
  async load(
    model: Blob | ArrayBuffer | string,
    options: EngineOptions,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<Outcome<ModelInfo>> {
    return attempt(async () => {
      if (!engine) {
        const device = () =>
          requestBestDevice(self.navigator.gpu, {
            hint: 'Use a browser with WebGPU enabled (Chrome/Edge 113+), or the CPU path.',
          });
        const gpu = await device();
        // A lost device (driver update, GPU process crash) is replaced and the answer continues.
        engine = new WebGpuEngine(gpu.device, {
          ...options,
          recoverDevice: async () => (await device()).device,
        });
        const info = await engine.load(model, onProgress);
        return { ...info, adapter: gpu.description };
      }
      return engine.load(model, onProgress);
    });
  },

  async generate(
    id: string,
    req: Omit<GenerateRequest, 'signal'>,
    onChunk: (c: GenerateChunk) => void,
  ): Promise<Outcome<GenerateResult>> {
    const ctl = new AbortController();
    controllers.set(id, ctl);
    if (earlyAborts.delete(id)) ctl.abort();
    try {
      return await attempt(async () => {
        if (!engine) throw new EngineStateError('no model is loaded');
        const it = engine.generate({ ...req, signal: ctl.signal });
        for (;;) {
          const r = await it.next();
          if (r.done) return r.value;
          onChunk(r.value);
        }
      });
    } finally {
      controllers.delete(id);
    }
  },

  async countTokens(messages: ChatMessage[]): Promise<Outcome<number>> {
    return attempt(async () => {
      if (!engine) throw new EngineStateError('no model is loaded');
      return engine.countTokens(messages);
    });
  },

  abort(id: string): void {
    const ctl = controllers.get(id);
    if (ctl) ctl.abort();
    else earlyAborts.add(id);
  },

  async reset(): Promise<void> {
    await engine?.reset();
  },

  /** Hot-swaps LoRA adapters; the page transfers the tensors' buffers, so nothing is copied twice. */
  async setAdapters(adapters: EngineAdapter[]): Promise<Outcome<void>> {
    return attempt(async () => {
      if (!engine) throw new EngineStateError('no model is loaded');
      await engine.setAdapters(adapters);
    });
  },

  async dispose(): Promise<void> {
    await engine?.dispose();
    engine = undefined;
  },
};

Comlink.expose(api);
