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
import { decideBackend, hasWasm, measuredDecision, type BackendDecision } from '../widget/backend.ts';
import { probeInWorker } from '../engine/gpu/probe-client.ts';
import { cpuFallbackAfter } from './gpu-refusal.ts';
import { raceBackends, type LoadedPath } from './backend-race.ts';
import { cpuReadBytesPerSecond } from '../widget/backend-measure.ts';
import { pageStorage, readChoice, writeChoice, type DeviceSignature } from '../widget/backend-cache.ts';
import { spawnGpuProbeWorker, spawnInferenceWorker, watchWorker } from '../../workers/spawn.ts';
import { GpuUnavailableError, InvalidRequestError, NoBackendError } from '../protocol/errors.ts';
export { NoBackendError };

/**
 * Every start-up phase ends within a bound, so a portal never shows a spinner forever: a worker
 * whose script does not load rejects at once (its `error` event), and these timeouts catch the
 * rest. A probe that does not answer means "no WebGPU here" (the CPU path runs instead).
 */
export const PROBE_TIMEOUT_MS = 30_000;

/** Loading a model: a minute, plus a second for every 2 MB (slow phones, large files). */
export function loadTimeoutMs(bytes: number): number {
  return 60_000 + Math.ceil(bytes / 2_000_000) * 1000;
}

/** `p`, or a rejection with `onTimeout()` after `ms`, or `failed`'s rejection, whichever is first. */
function within<T>(p: Promise<T>, ms: number, onTimeout: () => Error, failed?: Promise<never>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, timeout, ...(failed ? [failed] : [])]).finally(() => clearTimeout(timer));
}

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
  /**
   * Force a path; `auto` (default) measures both on this device once (per model size, kept in
   * localStorage) and runs the faster; `decision.measured` in the result says what was measured.
   */
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

/** An engine being started; `failed` rejects when its worker dies, `kill` ends it without asking. */
interface Spawned {
  engine: ChatEngine;
  failed?: Promise<never>;
  kill?: () => void;
}

// Dure's WGSL engine in its worker (workers/inference.worker.ts).
let webgpuFactory: (() => Spawned) | null = () => {
  const worker = spawnInferenceWorker();
  const watch = watchWorker(
    worker,
    (detail) =>
      new NoBackendError(
        `WebGPU 엔진을 시작하지 못했습니다 (${detail}). / The WebGPU engine's worker could not start (${detail}).`,
      ),
  );
  return {
    engine: new WorkerEngine({}, worker),
    failed: watch.failed,
    kill: () => {
      watch.stop();
      worker.terminate();
    },
  };
};

/** The WebGPU engine's page-side client registers itself here when it is part of the build. */
export function registerWebGpuEngine(factory: EngineFactory): void {
  webgpuFactory = () => ({ engine: factory() });
}

/** Disposes an engine that may be stuck (a dead worker never answers `dispose`). */
async function discard(s: Spawned): Promise<void> {
  if (s.kill) {
    s.kill();
    return;
  }
  await within(s.engine.dispose(), 5000, () => new Error('dispose timed out')).catch(() => undefined);
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

/**
 * Probes WebGPU in its worker; any failure (no WebGPU, a worker script that does not load, no answer
 * within `timeoutMs`) is returned as the Error that the backend decision then explains.
 */
export async function probeWebGpu(timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult | Error> {
  let worker: Worker | undefined;
  let watch: ReturnType<typeof watchWorker> | undefined;
  try {
    worker = spawnGpuProbeWorker();
    watch = watchWorker(
      worker,
      (detail) => new GpuUnavailableError(`the probe worker could not start: ${detail}`),
    );
    return await within(
      probeInWorker(worker),
      timeoutMs,
      () => new GpuUnavailableError(`the probe did not answer within ${timeoutMs / 1000} s`),
      watch.failed,
    );
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  } finally {
    watch?.stop();
    worker?.terminate();
  }
}

/** What a measured choice is kept for: this adapter, in this browser, on this many cores. */
function deviceSignature(p: ProbeResult): DeviceSignature {
  const nav = typeof navigator === 'undefined' ? null : navigator;
  return {
    adapter: p.gpuAdapter,
    software: p.software ?? false,
    userAgent: nav?.userAgent ?? '',
    cores: nav?.hardwareConcurrency ?? 0,
  };
}

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/**
 * Refuses options that cannot work before anything is probed or downloaded, so a mistake (such as
 * README's `sha256: '…'` placeholder left in) reads as what to fix, not as a failure deep inside.
 * @throws {InvalidRequestError} naming the option.
 */
export function checkStartOptions(opts: StartOptions): void {
  if (typeof opts !== 'object' || opts === null)
    throw new InvalidRequestError('createDure needs options: { model, sha256 }');
  if (typeof opts.model !== 'string' || opts.model.trim() === '')
    throw new InvalidRequestError('model must be the URL of a GGUF file, such as /models/model.gguf');
  if (opts.sha256 !== undefined && (typeof opts.sha256 !== 'string' || !SHA256_HEX.test(opts.sha256)))
    throw new InvalidRequestError(
      `sha256 must be the model file's SHA-256 as 64 hexadecimal digits (sha256sum model.gguf), ` +
        `not ${JSON.stringify(opts.sha256)}`,
    );
  if (opts.backend !== undefined && !['auto', 'webgpu', 'wasm-cpu'].includes(opts.backend))
    throw new InvalidRequestError(
      `backend must be auto, webgpu or wasm-cpu, not ${JSON.stringify(opts.backend)}`,
    );
}

/**
 * @throws {NoBackendError} when neither path can run (the message says what would help).
 * @throws {import('../model-manager/errors.ts').ModelIntegrityError} and the other model-manager errors.
 * @throws {import('../engine/wllama/errors.ts').WasmEngineError} when llama.cpp cannot load the file.
 * @throws {import('../protocol/errors.ts').UnsupportedWeightTypeError} and
 *   UnsupportedArchitectureError when the WebGPU engine refuses the file (no silent CPU fallback).
 */
export async function startEngine(opts: StartOptions): Promise<StartedEngine> {
  const report = (p: Partial<DureProgress> & { phase: DureProgress['phase'] }) =>
    opts.onProgress?.({ loadedBytes: 0, totalBytes: 0, bytesPerSecond: 0, etaSeconds: null, ...p });
  // The widget and createDure both start here: a placeholder left in reads as what to fix.
  checkStartOptions(opts);
  report({ phase: 'probe' });
  const store = opts.store ?? (await openModelStore());
  const probed = await probeWebGpu();
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
  const limit = loadTimeoutMs(downloaded.blob.size);
  // WllamaEngine bounds its own load (it can end llama.cpp's worker on a timeout).
  const cpu = (): Spawned => ({
    engine: new WllamaEngine({ contextLength: opts.contextLength ?? 2048, loadTimeoutMs: limit }),
  });
  /** Loads `s` within `ms`; on failure it is discarded and the error rethrown. */
  const loadSpawned = async (s: Spawned, ms = limit + 5000): Promise<LoadedPath> => {
    try {
      const info = await within(
        s.engine.load(downloaded.blob),
        ms,
        () =>
          new NoBackendError(
            `모델을 ${Math.round(ms / 1000)}초 안에 불러오지 못했습니다. 페이지를 새로 고쳐 다시 시도해 주세요. / ` +
              `The model did not load within ${Math.round(ms / 1000)} s. Reload the page and try again.`,
          ),
        s.failed,
      );
      return { engine: s.engine, info, discard: () => discard(s) };
    } catch (e) {
      await discard(s);
      throw e;
    }
  };
  const gpuFactory = webgpuFactory;
  // "auto" with both paths usable: measured once per device and model size (backend-race.ts).
  const device =
    (opts.backend ?? 'auto') === 'auto' &&
    decision.backend === 'webgpu' &&
    gpuFactory &&
    hasWasm() &&
    !(probed instanceof Error)
      ? { probe: probed, signature: deviceSignature(probed) }
      : null;
  const storage = pageStorage();
  const modelBytes = downloaded.blob.size;
  const cached = device ? readChoice(storage, device.signature, modelBytes) : null;
  let path: LoadedPath;
  try {
    if (device && gpuFactory && !cached) {
      const raced = await raceBackends({
        software: device.probe.software ?? false,
        adapter: device.probe.gpuAdapter,
        modelBytes,
        loadGpu: (ms) => loadSpawned(gpuFactory(), ms),
        loadCpu: () => loadSpawned(cpu()),
        cpuReadBytesPerSecond: () => cpuReadBytesPerSecond(),
      });
      path = raced.winner;
      decision = raced.decision;
      if (raced.cacheable && raced.decision.measured)
        writeChoice(storage, device.signature, modelBytes, {
          backend: raced.backend,
          measured: raced.decision.measured,
          at: Date.now(),
        });
    } else {
      if (device && cached)
        decision = measuredDecision(
          cached.backend,
          { ...cached.measured, cached: true },
          device.probe.gpuAdapter,
        );
      path = await loadSpawned(decision.backend === 'webgpu' && gpuFactory ? gpuFactory() : cpu());
    }
  } catch (e) {
    // A file the WGSL engine refuses (architecture, tensor type) is reported, never silently run
    // on the CPU; a worker that dies or a GPU that runs out of memory moves to llama.cpp's CPU
    // path with the reason shown (gpu-refusal.ts).
    decision = cpuFallbackAfter(e, {
      backend: decision.backend,
      requested: opts.backend,
      wasmAvailable: hasWasm(),
    });
    path = await loadSpawned(cpu());
  }
  const { engine, info } = path;
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
