import { describe, expect, it } from 'vitest';
import { GpuUnavailableError } from '../engine/errors.ts';
import type { ProbeResult } from '../engine/gpu/probe.ts';
import { decideBackend } from './backend.ts';

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
    expect(d.reason.en).toMatch(/configured/);
  });
  it('says what would help when neither path can run', () => {
    const d = decideBackend({ ...base, probe: new Error('no gpu'), wasmAvailable: false });
    expect(d.backend).toBeNull();
    expect(d.reason.ko).toMatch(/Chrome/);
  });
});
