import { describe, expect, it } from 'vitest';
import type { ChatEngine, ModelInfo } from '../engine/api.ts';
import type { DecodeMeasurement, MeasureOptions } from '../widget/backend-measure.ts';
import { PacedEngine } from '../testing/paced-engine.ts';
import { challengerBudget, raceBackends, type LoadedPath, type RaceInput } from './backend-race.ts';

const info = (backend: ModelInfo['backend']): ModelInfo => ({
  architecture: 'llama',
  name: 'demo',
  contextLength: 512,
  parameters: 0,
  quantTypes: [],
  backend,
});
const run = (tps: number, complete = true): DecodeMeasurement => ({
  tokensPerSecond: tps,
  tokens: 8,
  firstTokenSeconds: 0.05,
  seconds: 0.2,
  complete,
});

/** Two scripted paths; `log` records loads, measurements and discards in order. */
function paths(o: {
  gpu: DecodeMeasurement | Error;
  cpu: DecodeMeasurement;
  gpuLoad?: Error;
  cpuLoad?: Error;
}) {
  const log: string[] = [];
  const engines = { gpu: new PacedEngine(0, 0), cpu: new PacedEngine(0, 0) };
  const path = (name: 'gpu' | 'cpu'): LoadedPath => ({
    engine: engines[name],
    info: info(name === 'gpu' ? 'webgpu' : 'wasm-cpu'),
    discard: async () => void log.push(`discard ${name}`),
  });
  const budgets: Record<string, MeasureOptions> = {};
  const input: Omit<RaceInput, 'software'> = {
    adapter: 'test adapter',
    modelBytes: 4e6,
    loadGpu: async () => {
      log.push('load gpu');
      if (o.gpuLoad) throw o.gpuLoad;
      return path('gpu');
    },
    loadCpu: async () => {
      log.push('load cpu');
      if (o.cpuLoad) throw o.cpuLoad;
      return path('cpu');
    },
    cpuReadBytesPerSecond: () => 10e9,
    measure: async (e: ChatEngine, opts: MeasureOptions) => {
      const name = e === engines.gpu ? 'gpu' : 'cpu';
      log.push(`measure ${name}`);
      budgets[name] = opts;
      const m = o[name];
      if (m instanceof Error) throw m;
      return m;
    },
  };
  return { log, input, budgets, engines };
}

describe('raceBackends', () => {
  it('software adapter: measures the CPU first, races the GPU against it, keeps the CPU', async () => {
    const p = paths({ gpu: run(0.83, false), cpu: run(46.8) });
    const r = await raceBackends({ ...p.input, software: true });
    expect(r.backend).toBe('wasm-cpu');
    expect(r.winner.engine).toBe(p.engines.cpu);
    expect(p.log).toEqual(['load cpu', 'measure cpu', 'load gpu', 'measure gpu', 'discard gpu']);
    // The challenger gets only the time a faster path would need.
    expect(p.budgets['gpu']?.decodeBudgetMs).toBeLessThan(250);
    expect(r.decision.reason.ko).toContain('CPU 경로가 더 빠릅니다');
    expect(r.decision.measured).toMatchObject({ software: true, cached: false, gpu: { complete: false } });
    expect(r.cacheable).toBe(true);
  });
  it('software adapter: an emulated GPU that really is faster wins', async () => {
    const p = paths({ gpu: run(60), cpu: run(46.8) });
    const r = await raceBackends({ ...p.input, software: true });
    expect(r.backend).toBe('webgpu');
    expect(p.log.at(-1)).toBe('discard cpu');
  });
  it('real GPU faster than the CPU could ever be: the CPU path is not even loaded', async () => {
    // 10 GB/s over a 4 MB file allows 10 000 tok/s; a 1 GB file only 40.
    const p = paths({ gpu: run(85), cpu: run(1) });
    const r = await raceBackends({ ...p.input, software: false, modelBytes: 1e9 });
    expect(r.backend).toBe('webgpu');
    expect(p.log).toEqual(['load gpu', 'measure gpu']);
    expect(r.decision.measured?.cpuBound).toBeCloseTo(40);
    expect(r.decision.reason.en).toMatch(/GPU path is faster.*CPU at most 40/);
  });
  it('real GPU below the bound: the CPU is raced and wins when faster', async () => {
    const p = paths({ gpu: run(20), cpu: run(46.8) });
    const r = await raceBackends({ ...p.input, software: false });
    expect(r.backend).toBe('wasm-cpu');
    expect(p.log).toEqual(['load gpu', 'measure gpu', 'load cpu', 'measure cpu', 'discard gpu']);
  });
  it('a WebGPU engine that cannot load on a software adapter: the CPU runs, and the reason says why', async () => {
    const p = paths({
      gpu: run(1),
      cpu: run(46.8),
      gpuLoad: new Error("The WebGPU engine's worker could not start (404)"),
    });
    const r = await raceBackends({ ...p.input, software: true });
    expect(r.backend).toBe('wasm-cpu');
    expect(r.decision.reason.en).toMatch(/worker could not start/);
    expect(r.cacheable).toBe(false);
  });
  it("a hardware adapter's load error goes to the caller (its fallback rules apply)", async () => {
    const p = paths({ gpu: run(1), cpu: run(46.8), gpuLoad: new Error('refused') });
    await expect(raceBackends({ ...p.input, software: false })).rejects.toThrow('refused');
  });
  it('a CPU path that cannot load leaves the GPU, said so', async () => {
    const p = paths({ gpu: run(2), cpu: run(40), cpuLoad: new Error('no wasm') });
    const r = await raceBackends({ ...p.input, software: true });
    expect(r.backend).toBe('webgpu');
    expect(r.decision.reason.en).toMatch(
      /CPU \(WebAssembly\) path could not run the model on this device \(no wasm\)/,
    );
  });
  it('with real timing: a slow emulated GPU is cut off and costs little', async () => {
    const gpu = new PacedEngine(30, 1000);
    const cpu = new PacedEngine(10, 4);
    const t = performance.now();
    const r = await raceBackends({
      software: true,
      adapter: 'sw',
      modelBytes: 4e6,
      loadGpu: async () => ({ engine: gpu, info: info('webgpu'), discard: () => gpu.dispose() }),
      loadCpu: async () => ({ engine: cpu, info: info('wasm-cpu'), discard: () => cpu.dispose() }),
      cpuReadBytesPerSecond: () => 1e9,
    });
    expect(r.backend).toBe('wasm-cpu');
    expect(gpu.disposed).toBe(true);
    expect(cpu.disposed).toBe(false);
    expect(r.decision.measured?.gpu?.complete).toBe(false);
    // The CPU's 8 tokens take ~40 ms; the GPU is stopped well before its 7 s.
    expect(performance.now() - t).toBeLessThan(3000);
  });
});

describe('challengerBudget', () => {
  it('allows a faster challenger and cuts a slower one', () => {
    const b = challengerBudget(run(40), 8);
    // 7 tokens at 40 tok/s take 175 ms; the challenger may take 25 % more.
    expect(b.decodeBudgetMs).toBeCloseTo(7 * 31.25 + 50);
    expect(b.deadlineMs).toBeGreaterThanOrEqual(1500);
    expect(challengerBudget(run(0.1), 8).deadlineMs).toBe(4000);
  });
});
