import { describe, expect, it } from 'vitest';
import { GpuUnavailableError } from '../engine/errors.ts';
import type { ProbeResult } from '../engine/gpu/probe.ts';
import { decideBackend, measuredDecision, pickMeasured } from './backend.ts';

const probe: ProbeResult = {
  gpuAdapter: 'Google SwiftShader',
  features: ['subgroups'],
  maxStorageBufferBindingSize: 128 << 20,
  maxBufferSize: 256 << 20,
  maxComputeWorkgroupStorageSize: 16384,
  dispatchOk: true,
  sample: [21],
};
const base = { probe, modelBytes: 4 << 20, webgpuEngineAvailable: true, wasmAvailable: true };

describe('decideBackend', () => {
  it('uses WebGPU when the probe passes, the model fits and the engine exists', () => {
    expect(decideBackend(base)).toMatchObject({ backend: 'webgpu' });
  });
  it('falls back to the CPU without WebGPU and says why in both languages', () => {
    const d = decideBackend({ ...base, probe: new GpuUnavailableError('navigator.gpu is missing') });
    expect(d.backend).toBe('wasm-cpu');
    expect(d.reason.ko).toContain('WebGPU');
    expect(d.reason.en).toContain('navigator.gpu is missing');
  });
  it('falls back when the dispatch was wrong', () => {
    expect(decideBackend({ ...base, probe: { ...probe, dispatchOk: false } }).backend).toBe('wasm-cpu');
  });
  it('falls back when the model is too large for the adapter limits', () => {
    expect(decideBackend({ ...base, modelBytes: 2 * 2 ** 30 }).backend).toBe('wasm-cpu');
  });
  it('falls back while no WebGPU engine is in the build', () => {
    expect(decideBackend({ ...base, webgpuEngineAvailable: false }).reason.en).toMatch(
      /no Dure WebGPU engine/,
    );
  });
  it('honours a portal that asks for the CPU path', () => {
    const d = decideBackend({ ...base, forceCpu: true });
    expect(d).toMatchObject({ backend: 'wasm-cpu' });
    expect(d.reason).toEqual({ ko: '이 포털이 정한 방식입니다.', en: 'Set by this portal.' });
  });
  it('says what would help when neither path can run', () => {
    const d = decideBackend({ ...base, probe: new Error('no gpu'), wasmAvailable: false });
    expect(d.backend).toBeNull();
    expect(d.reason.ko).toMatch(/Chrome/);
  });
});

describe('pickMeasured and the reason shown', () => {
  const run = (tps: number, complete = true) => ({
    tokensPerSecond: tps,
    tokens: 8,
    firstTokenSeconds: 0.2,
    seconds: 0.5,
    complete,
  });
  it('a software adapter never wins unless measured faster, with a complete run', () => {
    expect(pickMeasured({ gpu: run(0.83), cpu: run(46.8), cpuBound: null, software: true })).toBe('wasm-cpu');
    expect(pickMeasured({ gpu: run(40), cpu: run(40), cpuBound: null, software: true })).toBe('wasm-cpu');
    expect(pickMeasured({ gpu: run(90, false), cpu: run(40), cpuBound: null, software: true })).toBe(
      'wasm-cpu',
    );
    expect(pickMeasured({ gpu: run(60), cpu: run(40), cpuBound: null, software: true })).toBe('webgpu');
  });
  it('a real GPU keeps a tie and wins outright above the CPU bound', () => {
    expect(pickMeasured({ gpu: run(40), cpu: run(40), cpuBound: 400, software: false })).toBe('webgpu');
    expect(pickMeasured({ gpu: run(30), cpu: run(40), cpuBound: 400, software: false })).toBe('wasm-cpu');
    expect(pickMeasured({ gpu: run(80), cpu: null, cpuBound: 40, software: false })).toBe('webgpu');
    expect(pickMeasured({ gpu: run(30), cpu: null, cpuBound: 40, software: false })).toBe('wasm-cpu');
    expect(pickMeasured({ gpu: null, cpu: run(1), cpuBound: null, software: false })).toBe('wasm-cpu');
  });
  it('says which path is faster, with the figures, in Korean and English', () => {
    const d = measuredDecision(
      'wasm-cpu',
      { gpu: run(0.83), cpu: run(46.8), cpuBound: null, software: true, cached: false },
      'google swiftshader',
    );
    expect(d.backend).toBe('wasm-cpu');
    expect(d.reason.ko).toContain('이 기기에서는 CPU 경로가 더 빠릅니다 (측정: GPU 0.8, CPU 47 토큰/초).');
    expect(d.reason.ko).toContain('소프트웨어(google swiftshader)');
    expect(d.reason.en).toContain(
      'The CPU path is faster on this device (measured: GPU 0.8, CPU 47 tokens/s).',
    );
    expect(d.measured?.cpu?.tokensPerSecond).toBe(46.8);
  });
  it('marks cut-off runs, the CPU bound and earlier measurements', () => {
    const cut = measuredDecision(
      'wasm-cpu',
      { gpu: run(1.7, false), cpu: run(40), cpuBound: null, software: true, cached: true },
      'sw',
    );
    expect(cut.reason.ko).toContain('(이 기기에서 이전에 측정: GPU 1.7 이하, CPU 40 토큰/초)');
    expect(cut.reason.en).toContain('GPU at most 1.7');
    const fast = measuredDecision(
      'webgpu',
      { gpu: run(85), cpu: null, cpuBound: 12.5, software: false, cached: false },
      'nvidia ampere',
    );
    expect(fast.reason.en).toBe(
      'The GPU path is faster on this device (measured: GPU 85, CPU at most 13 tokens/s). Graphics processor: nvidia ampere.',
    );
    const failed = measuredDecision(
      'wasm-cpu',
      { gpu: null, cpu: run(40), cpuBound: null, software: true, cached: false },
      'sw',
      { gpuError: "The WebGPU engine's worker could not start" },
    );
    expect(failed.reason.en).toMatch(/worker could not start.*Measured: CPU 40 tokens\/s\.$/);
  });
});

describe('the reason beside "실행 방식"', () => {
  const run = (tps: number) => ({
    tokensPerSecond: tps,
    tokens: 8,
    firstTokenSeconds: 0.2,
    seconds: 0.5,
    complete: true,
  });
  const m = { cpuBound: null, cached: false };
  const decisions = [
    decideBackend(base),
    decideBackend({ ...base, forceCpu: true }),
    decideBackend({ ...base, probe: new GpuUnavailableError('navigator.gpu is missing') }),
    decideBackend({ ...base, probe: { ...probe, dispatchOk: false } }),
    decideBackend({ ...base, modelBytes: 2 * 2 ** 30 }),
    decideBackend({ ...base, webgpuEngineAvailable: false }),
    measuredDecision('wasm-cpu', { ...m, gpu: run(0.8), cpu: run(47), software: true }, 'swiftshader'),
    measuredDecision('webgpu', { ...m, gpu: run(85), cpu: run(13), software: false }, 'nvidia ampere'),
    measuredDecision('webgpu', { ...m, gpu: run(60), cpu: run(40), software: true }, 'swiftshader'),
    measuredDecision('wasm-cpu', { ...m, gpu: null, cpu: run(40), software: false }, 'x', {
      gpuError: 'worker died',
    }),
  ];
  // The widget's line already says "실행 방식: CPU(WebAssembly)" / "Runs on: CPU (WebAssembly)";
  // the reason used to say it again ("… CPU(WebAssembly)로 실행합니다.").
  it.each(decisions.map((d, i) => [i, d] as const))(
    '%i: says why in whole sentences, naming the path once',
    (_, d) => {
      expect(d.backend).not.toBeNull();
      for (const text of [d.reason.ko, d.reason.en]) {
        expect(text).toMatch(/\.$/);
        expect(text).not.toMatch(/로 실행합니다|Running on|Runs on/);
      }
      const named =
        d.backend === 'webgpu'
          ? /WebGPU\(|그래픽 처리장치\(WebGPU/
          : /CPU\(WebAssembly\)|CPU \(WebAssembly\)/;
      expect(d.reason.ko).not.toMatch(named);
      expect(d.reason.en).not.toMatch(named);
      // Korean sentences end as sentences do (…다.), not on a dangling connective (…없어).
      for (const sentence of d.reason.ko.split(/(?<=\.) /)) expect(sentence).toMatch(/(다|\))\.$|: .+\.$/);
    },
  );
  it('still says what runs when nothing can, since no path line is shown then', () => {
    const d = decideBackend({ ...base, forceCpu: true, wasmAvailable: false });
    expect(d.backend).toBeNull();
    expect(d.reason.ko).toContain('CPU(WebAssembly)로만');
    expect(d.reason.ko).toContain('WebAssembly를 지원하지 않아');
  });
});
