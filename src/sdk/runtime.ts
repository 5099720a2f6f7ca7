/**
 * Starting a model in the browser, shared by the widget and the SDK: probe WebGPU in a worker,
 * choose the path, download (or reuse) the verified GGUF, load it. One sequence, so the widget
 * and `createDure` behave the same.
 */
import type { ChatEngine, ModelInfo } from '../engine/api.ts';
import type { ProbeResult } from '../engine/gpu/probe.ts';
import { WllamaEngine } from '../engine/wllama/wllama-engine.ts';
import { WorkerEngine } from '../engine/worker-client.ts';
import { checkOrigin, downloadModel, type DownloadProgress } from '../model-manager/download.ts';
import { openModelStore, type ModelStore } from '../model-manager/store.ts';
import { decideBackend, hasWasm, type BackendDecision } from '../widget/backend.ts';
import { probeInWorker } from '../engine/gpu/probe-client.ts';
import { spawnGpuProbeWorker, spawnInferenceWorker } from '../../workers/spawn.ts';
import { NoBackendError } from '../protocol/errors.ts';
export { NoBackendError };

export interface DureProgress {
  phase: 'probe' | 'download' | 'verify' | 'load' | 'ready';
  loadedBytes: number;
  totalBytes: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

export interface StartOptions {
  /** GGUF URL (same origin as the page unless listed in `allowedOrigins`). */
  model: string;
  /** Expected SHA-256 (hex) of the GGUF; strongly recommended. */
  sha256?: string;
  allowedOrigins?: readonly string[];
  onProgress?: (p: DureProgress) => void;
  signal?: AbortSignal;
  store?: ModelStore;
  contextLength?: number;
  /** Force a path; `auto` (default) lets the probe decide. */
  backend?: 'auto' | 'webgpu' | 'wasm-cpu';
}

export interface StartedEngine {
  engine: ChatEngine;
  info: ModelInfo;
  decision: BackendDecision;
  probe: ProbeResult | Error;
  fromCache: boolean;
  modelSha256: string;
}

type EngineFactory = () => ChatEngine;
// Dure's WGSL engine in its worker (workers/inference.worker.ts).
let webgpuFactory: EngineFactory | null = () => new WorkerEngine({}, spawnInferenceWorker());

/** The WebGPU engine's page-side client registers itself here when it is part of the build. */
export function registerWebGpuEngine(factory: EngineFactory): void {
  webgpuFactory = factory;
}

/**
 * The model's size before downloading it (a HEAD request to the same allowed origin), so the
 * limits check happens first; 0 when the server does not say.
 */
async function announcedSize(opts: StartOptions): Promise<number> {
  try {
    const allowed = [location.origin, ...(opts.allowedOrigins ?? [])];
    const url = checkOrigin(opts.model, allowed);
    const res = await fetch(url, { method: 'HEAD', cache: 'no-store', credentials: 'same-origin' });
    return res.ok ? Number(res.headers.get('content-length') ?? 0) : 0;
  } catch {
    // Offline or origin refused: downloadModel reports that properly.
    return 0;
  }
}

async function probe(): Promise<ProbeResult | Error> {
  try {
    return await probeInWorker(spawnGpuProbeWorker());
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/**
 * @throws {NoBackendError} when neither path can run (the message says what would help).
 * @throws {import('../model-manager/errors.ts').ModelIntegrityError} and the other model-manager errors.
 * @throws {import('../engine/wllama/errors.ts').WasmEngineError} when llama.cpp cannot load the file.
 */
export async function startEngine(opts: StartOptions): Promise<StartedEngine> {
  const report = (p: Partial<DureProgress> & { phase: DureProgress['phase'] }) =>
    opts.onProgress?.({ loadedBytes: 0, totalBytes: 0, bytesPerSecond: 0, etaSeconds: null, ...p });
  report({ phase: 'probe' });
  const store = opts.store ?? (await openModelStore());
  const probed = await probe();
  // The file size decides whether the model fits the adapter; a stored copy knows it without asking.
  const stored = (await store.list()).find((m) => m.meta.url === new URL(opts.model, location.href).href);
  let decision = decideBackend({
    probe: probed,
    modelBytes: stored?.meta.totalBytes || (await announcedSize(opts)),
    webgpuEngineAvailable: webgpuFactory !== null,
    wasmAvailable: hasWasm() && opts.backend !== 'webgpu',
    forceCpu: opts.backend === 'wasm-cpu',
  });
  if (!decision.backend) throw new NoBackendError(`${decision.reason.ko} / ${decision.reason.en}`);
  const downloaded = await downloadModel({
    url: opts.model,
    ...(opts.sha256 ? { sha256: opts.sha256 } : {}),
    store,
    ...(opts.allowedOrigins ? { allowedOrigins: [location.origin, ...opts.allowedOrigins] } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress: (p: DownloadProgress) => report({ phase: 'download', ...p }),
  });
  report({ phase: 'load', loadedBytes: downloaded.blob.size, totalBytes: downloaded.blob.size });
  const cpu = () => new WllamaEngine({ contextLength: opts.contextLength ?? 2048 });
  let engine: ChatEngine = decision.backend === 'webgpu' && webgpuFactory ? webgpuFactory() : cpu();
  let info: ModelInfo;
  try {
    info = await engine.load(downloaded.blob);
  } catch (e) {
    // The WGSL engine refuses models it cannot run (architecture, quant type, limits): the same
    // file still runs on llama.cpp's CPU path, and the citizen is told why.
    if (decision.backend !== 'webgpu' || opts.backend === 'webgpu' || !hasWasm()) throw e;
    await engine.dispose().catch(() => undefined);
    const why = e instanceof Error ? e.message : String(e);
    decision = {
      backend: 'wasm-cpu',
      reason: {
        ko: `WebGPU 엔진이 이 모델을 실행할 수 없어 CPU(WebAssembly)로 실행합니다. (${why})`,
        en: `The WebGPU engine cannot run this model (${why}). Running on the CPU (WebAssembly).`,
      },
    };
    engine = cpu();
    info = await engine.load(downloaded.blob);
  }
  report({ phase: 'ready', loadedBytes: downloaded.blob.size, totalBytes: downloaded.blob.size });
  return {
    engine,
    info,
    decision,
    probe: probed,
    fromCache: downloaded.fromCache,
    modelSha256: downloaded.sha256,
  };
}
