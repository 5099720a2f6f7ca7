import { describe, expect, it } from 'vitest';
import { testGpu, testKernelLibrary } from '../../testing/node-gpu.ts';
import { addVectors, encodeElementwiseParams } from './elementwise.ts';

describe('elementwise add on Dawn', () => {
  it('runs on a real adapter', async () => {
    const { description, device } = await testGpu();
    expect(description.length).toBeGreaterThan(0);
    expect(device.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  // Odd lengths exercise the bounds check of the last workgroup.
  it.each([1, 63, 64, 65, 1000, 4099])('adds %i elements', async (n) => {
    const lib = await testKernelLibrary();
    const a = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
    const b = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.7));
    const out = await addVectors(lib, a, b, 0.5);
    for (let i = 0; i < n; i++) expect(out[i]).toBeCloseTo((a[i] ?? 0) + 0.5 * (b[i] ?? 0), 5);
  });

  it('encodes params in the WGSL field order', () => {
    const v = new DataView(encodeElementwiseParams({ n: 7, scale: -2 }));
    expect(v.byteLength).toBe(8);
    expect(v.getUint32(0, true)).toBe(7);
    expect(v.getFloat32(4, true)).toBe(-2);
  });
});
