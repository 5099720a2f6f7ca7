/**
 * Runs ops on the test device: buffers from typed arrays, one step, results read back.
 * For kernel tests in the spirit of llama.cpp's test-backend-ops.
 */
import { KernelLibrary } from '../engine/gpu/kernel-library.ts';
import { Ops, recordDispatches, type Dispatch, type OpsOptions } from '../engine/gpu/ops.ts';
import { encodeStep, STEP_BYTES } from '../engine/gpu/params.ts';
import { UniformArena } from '../engine/gpu/uniform-arena.ts';
import { testF16Gpu, testGpu } from './node-gpu.ts';

export class GpuHarness {
  readonly buffers: GPUBuffer[] = [];
  private constructor(
    readonly device: GPUDevice,
    readonly ops: Ops,
    readonly stepBuffer: GPUBuffer,
    readonly arena: UniformArena,
  ) {}

  /**
   * @param opts.lavapipe run on Mesa's lavapipe (the adapter with shader-f16), not SwiftShader
   * @param opts.f16 build the f16 kernel variants (implies lavapipe)
   * @param opts.gpuMatmul / opts.gemmTile / opts.gemvXChunk the weight-product kernels (see OpsOptions)
   * @param opts.matrixWorkgroupSize see OpsOptions.matrixWorkgroupSize
   */
  static async create(
    opts: { subgroups: boolean; lavapipe?: boolean; f16?: boolean } & Pick<
      OpsOptions,
      'gpuMatmul' | 'gemmTile' | 'gemvXChunk' | 'matrixWorkgroupSize'
    >,
  ): Promise<GpuHarness> {
    const { device } = await (opts.lavapipe || opts.f16 ? testF16Gpu() : testGpu());
    if (opts.subgroups && !device.features.has('subgroups')) {
      throw new Error('test adapter lacks the subgroups feature');
    }
    const step = device.createBuffer({
      size: STEP_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const arena = new UniformArena(device);
    const ops = new Ops(KernelLibrary.for(device), arena, step, {
      subgroups: opts.subgroups,
      f16: !!opts.f16,
      ...(opts.gpuMatmul === undefined ? {} : { gpuMatmul: opts.gpuMatmul }),
      ...(opts.gemmTile ? { gemmTile: opts.gemmTile } : {}),
      ...(opts.gemvXChunk ? { gemvXChunk: opts.gemvXChunk } : {}),
      ...(opts.matrixWorkgroupSize ? { matrixWorkgroupSize: opts.matrixWorkgroupSize } : {}),
    });
    return new GpuHarness(device, ops, step, arena);
  }

  storage(data: ArrayBufferView | number): GPUBuffer {
    const size = typeof data === 'number' ? data : data.byteLength;
    const b = this.device.createBuffer({
      size: Math.max(16, Math.ceil(size / 4) * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
    if (typeof data !== 'number')
      this.device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
    this.buffers.push(b);
    return b;
  }

  run(dispatches: Dispatch | Dispatch[], step: { nTokens: number; pos: number }): void {
    this.device.queue.writeBuffer(this.stepBuffer, 0, encodeStep(step));
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    recordDispatches(pass, Array.isArray(dispatches) ? dispatches : [dispatches], step.nTokens);
    pass.end();
    this.device.queue.submit([enc.finish()]);
  }

  async read(buffer: GPUBuffer, bytes = buffer.size): Promise<ArrayBuffer> {
    const r = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buffer, 0, r, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    await r.mapAsync(GPUMapMode.READ);
    const out = r.getMappedRange().slice(0);
    r.unmap();
    r.destroy();
    return out;
  }

  async readF32(buffer: GPUBuffer, n: number): Promise<Float32Array> {
    return new Float32Array(await this.read(buffer, n * 4));
  }

  destroy(): void {
    for (const b of this.buffers) b.destroy();
    this.arena.destroy();
    this.stepBuffer.destroy();
  }
}

/** Deterministic pseudo-random numbers (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(n: number, rand: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rand(), 1e-12);
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand()) * scale;
  }
  return out;
}

/** ‖a − b‖₂ / ‖b‖₂ */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    num += d * d;
    den += (b[i] as number) ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}
