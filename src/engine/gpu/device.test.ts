/**
 * Adapter request options as the platform sees them: a wrapper around Dawn's GPU object records
 * what requestBestDevice and the probe ask for and forwards to the real adapter.
 */
import { create, globals } from 'webgpu';
import { describe, expect, it } from 'vitest';
import { GpuUnavailableError } from '../errors.ts';
import { requestBestDevice } from './device.ts';
import { probeWebGpu } from './probe.ts';

Object.assign(globalThis, globals);
// Kept for the file's lifetime: Dawn must not collect an instance whose device lives.
const dawn = create([]);

function recording(gpu: GPU): { gpu: GPU; seen: (GPURequestAdapterOptions | undefined)[] } {
  const seen: (GPURequestAdapterOptions | undefined)[] = [];
  const wrapped = {
    requestAdapter: (o?: GPURequestAdapterOptions) => {
      seen.push(o);
      return gpu.requestAdapter(o);
    },
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
    wgslLanguageFeatures: gpu.wgslLanguageFeatures,
  } as GPU;
  return { gpu: wrapped, seen };
}

describe('adapter request', () => {
  it('requestBestDevice asks for the high-performance adapter (discrete GPU on dual-GPU laptops)', async () => {
    const { gpu, seen } = recording(dawn);
    const { device } = await requestBestDevice(gpu);
    device.destroy();
    expect(seen).toEqual([{ powerPreference: 'high-performance' }]);
  });

  it('the WebGPU probe asks for the same adapter the engine will use', async () => {
    const { gpu, seen } = recording(dawn);
    const r = await probeWebGpu(gpu);
    expect(r.dispatchOk).toBe(true);
    expect(seen).toEqual([{ powerPreference: 'high-performance' }]);
  });

  it('no adapter: a typed error, and the preference was still asked for', async () => {
    const seen: unknown[] = [];
    const none = { requestAdapter: async (o: unknown) => (seen.push(o), null) } as unknown as GPU;
    await expect(requestBestDevice(none)).rejects.toBeInstanceOf(GpuUnavailableError);
    expect(seen).toEqual([{ powerPreference: 'high-performance' }]);
  });
});
