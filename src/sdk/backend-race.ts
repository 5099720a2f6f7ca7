/**
 * Choosing WebGPU or llama.cpp's WebAssembly CPU path by measuring both on this device (issue 21
 * item 4), for `backend: 'auto'` when both are available and nothing was measured here before.
 *
 * The likelier winner is loaded and measured first — the GPU on a hardware adapter, the CPU on a
 * software one — and the other then runs as a challenger with a budget that only a faster path
 * meets (backend-measure.ts), so a slow path costs little more than the fast one's measurement.
 * On a hardware adapter the CPU path is not loaded at all when the GPU already decodes faster
 * than the CPU could (`cpuDecodeBound`): on a real GPU the whole choice costs one short
 * measurement. The loser is disposed; the winner is the engine the citizen then talks to.
 */
import type { ChatEngine, ModelInfo } from '../engine/api.ts';
import {
  gpuBeatsCpuBound,
  measuredDecision,
  pickMeasured,
  type Backend,
  type BackendDecision,
  type Measured,
} from '../widget/backend.ts';
import {
  cpuDecodeBound,
  measureDecode,
  PROBE_TOKENS,
  type DecodeMeasurement,
  type MeasureOptions,
} from '../widget/backend-measure.ts';

/** A loaded engine and how to let go of it. */
export interface LoadedPath {
  engine: ChatEngine;
  info: ModelInfo;
  discard(): Promise<void>;
}

export interface RaceInput {
  software: boolean;
  /** The adapter's name, for the reason shown. */
  adapter: string;
  modelBytes: number;
  /** Loads the WebGPU engine, within `limitMs` when given; on failure it discards its own engine. */
  loadGpu(limitMs?: number): Promise<LoadedPath>;
  loadCpu(): Promise<LoadedPath>;
  cpuReadBytesPerSecond(): number;
  measure?: (engine: ChatEngine, o: MeasureOptions) => Promise<DecodeMeasurement>;
}

export interface RaceOutcome {
  winner: LoadedPath;
  backend: Backend;
  decision: BackendDecision;
  /** Both paths ran as they should: worth keeping for next time (a failure is retried instead). */
  cacheable: boolean;
}

/** How long the first path may take to show its speed. */
export const FIRST_DEADLINE_MS = 4000;
/** How long a software adapter may take to load the WebGPU engine before the CPU path wins. */
export const SOFTWARE_GPU_LOAD_MS = 30_000;

/**
 * The challenger's budget: its first token in three times the first path's (at least 1.5 s, for
 * start-up work such as shader compilation), then its tokens at no less than 80 % of the first
 * path's rate — a challenger cut off at that budget is slower, whatever it would have reached.
 */
export function challengerBudget(first: DecodeMeasurement, tokens = PROBE_TOKENS): MeasureOptions {
  const decodeBudgetMs = Math.min(((tokens - 1) / first.tokensPerSecond) * 1250 + 50, FIRST_DEADLINE_MS);
  return {
    maxTokens: tokens,
    deadlineMs: Math.min(Math.max(1500, 3000 * first.firstTokenSeconds) + decodeBudgetMs, FIRST_DEADLINE_MS),
    decodeBudgetMs,
  };
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

type Tried = { ok: true; m: DecodeMeasurement } | { ok: false; error: string };

/**
 * Measures both paths and returns the faster, loaded.
 * @throws the WebGPU engine's load error on a hardware adapter (the caller's fallback decides),
 *   or the CPU path's when neither path loads.
 */
export async function raceBackends(i: RaceInput): Promise<RaceOutcome> {
  const measure = i.measure ?? measureDecode;
  const tryMeasure = async (p: LoadedPath, o: MeasureOptions): Promise<Tried> => {
    try {
      return { ok: true, m: await measure(p.engine, o) };
    } catch (e) {
      return { ok: false, error: message(e) };
    }
  };
  const done = (
    winner: LoadedPath,
    backend: Backend,
    m: Omit<Measured, 'software' | 'cached'>,
    notes: { gpuError?: string; cpuError?: string } = {},
  ): RaceOutcome => ({
    winner,
    backend,
    decision: measuredDecision(backend, { ...m, software: i.software, cached: false }, i.adapter, notes),
    cacheable: !notes.gpuError && !notes.cpuError,
  });
  const first = { deadlineMs: FIRST_DEADLINE_MS, maxTokens: PROBE_TOKENS };

  if (!i.software) {
    const gpu = await i.loadGpu();
    const g = await tryMeasure(gpu, first);
    if (!g.ok) {
      await gpu.discard();
      const cpu = await i.loadCpu();
      return done(cpu, 'wasm-cpu', { gpu: null, cpu: null, cpuBound: null }, { gpuError: g.error });
    }
    const cpuBound = cpuDecodeBound(i.cpuReadBytesPerSecond(), i.modelBytes);
    if (gpuBeatsCpuBound(g.m, cpuBound)) return done(gpu, 'webgpu', { gpu: g.m, cpu: null, cpuBound });
    let cpu: LoadedPath;
    try {
      cpu = await i.loadCpu();
    } catch (e) {
      return done(gpu, 'webgpu', { gpu: g.m, cpu: null, cpuBound: null }, { cpuError: message(e) });
    }
    const c = await tryMeasure(cpu, challengerBudget(g.m));
    if (!c.ok) {
      await cpu.discard();
      return done(gpu, 'webgpu', { gpu: g.m, cpu: null, cpuBound: null }, { cpuError: c.error });
    }
    return settle(gpu, cpu, { gpu: g.m, cpu: c.m, cpuBound });
  }

  // A software adapter: the CPU path first; the emulated GPU must then beat it.
  let cpu: LoadedPath;
  try {
    cpu = await i.loadCpu();
  } catch (e) {
    const gpu = await i.loadGpu();
    return done(gpu, 'webgpu', { gpu: null, cpu: null, cpuBound: null }, { cpuError: message(e) });
  }
  const c = await tryMeasure(cpu, first);
  if (!c.ok) {
    await cpu.discard();
    const gpu = await i.loadGpu();
    return done(gpu, 'webgpu', { gpu: null, cpu: null, cpuBound: null }, { cpuError: c.error });
  }
  let gpu: LoadedPath;
  try {
    gpu = await i.loadGpu(SOFTWARE_GPU_LOAD_MS);
  } catch (e) {
    // Not silent: the reason shown says the WebGPU engine could not load, and why.
    return done(cpu, 'wasm-cpu', { gpu: null, cpu: c.m, cpuBound: null }, { gpuError: message(e) });
  }
  const g = await tryMeasure(gpu, challengerBudget(c.m));
  if (!g.ok) {
    await gpu.discard();
    return done(cpu, 'wasm-cpu', { gpu: null, cpu: c.m, cpuBound: null }, { gpuError: g.error });
  }
  return settle(gpu, cpu, { gpu: g.m, cpu: c.m, cpuBound: null });

  async function settle(
    gpuPath: LoadedPath,
    cpuPath: LoadedPath,
    m: Omit<Measured, 'software' | 'cached'>,
  ): Promise<RaceOutcome> {
    const backend = pickMeasured({ ...m, software: i.software });
    await (backend === 'webgpu' ? cpuPath : gpuPath).discard();
    return done(backend === 'webgpu' ? gpuPath : cpuPath, backend, m);
  }
}
