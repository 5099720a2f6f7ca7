/**
 * `out = a + scale·b` on the GPU. The first kernel of the engine and the one the foundation
 * tests run in Node (Dawn) and in a browser worker, to prove WGSL really executes.
 */
import type { KernelLibrary } from './kernel-library.ts';

/** Mirrors `ElementwiseParams` in wgsl/elementwise.wgsl, field for field. */
export function encodeElementwiseParams(p: { n: number; scale: number }): ArrayBuffer {
  const buf = new ArrayBuffer(8);
  const view = new DataView(buf);
  view.setUint32(0, p.n, true);
  view.setFloat32(4, p.scale, true);
  return buf;
}

/** Runs the add kernel once and reads the result back. For tests and probes, not the hot path. */
export async function addVectors(
  lib: KernelLibrary,
  a: Float32Array<ArrayBuffer>,
  b: Float32Array<ArrayBuffer>,
  scale = 1,
): Promise<Float32Array> {
  if (a.length !== b.length) throw new RangeError(`length mismatch ${a.length} vs ${b.length}`);
  const { device } = lib;
  const kernel = await lib.get({ family: 'elementwise', entryPoint: 'add', workgroupSize: 64 });
  const bytes = Math.max(4, a.byteLength);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const bufA = device.createBuffer({ size: bytes, usage });
  const bufB = device.createBuffer({ size: bytes, usage });
  const out = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const params = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  try {
    device.queue.writeBuffer(bufA, 0, a);
    device.queue.writeBuffer(bufB, 0, b);
    device.queue.writeBuffer(params, 0, encodeElementwiseParams({ n: a.length, scale }));
    const bind = device.createBindGroup({
      layout: kernel.pipeline.getBindGroupLayout(0),
      entries: [bufA, bufB, out, params].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const enc = device.createCommandEncoder({ label: kernel.label });
    const pass = enc.beginComputePass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(Math.ceil(a.length / kernel.workgroupSize));
    pass.end();
    enc.copyBufferToBuffer(out, 0, read, 0, bytes);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const result = new Float32Array(read.getMappedRange().slice(0, a.byteLength));
    read.unmap();
    return result;
  } finally {
    for (const b of [bufA, bufB, out, read, params]) b.destroy();
  }
}
