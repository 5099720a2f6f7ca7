/**
 * Roofline on one adapter: a copy kernel's bandwidth, and each decode (matrix–vector) kernel's
 * effective bandwidth = weight bytes read ÷ GPU time, as a ratio to the copy. Same device, same run.
 */
import { quantize } from '../src/tools/gguf/quantize.ts';
import { GgmlType } from '../src/engine/gguf/types.ts';
import { destroyWeight, uploadWeight } from '../src/engine/gpu/gpu-weight.ts';
import { KernelLibrary } from '../src/engine/gpu/kernel-library.ts';
import { Ops, recordDispatches } from '../src/engine/gpu/ops.ts';
import { encodeStep, STEP_BYTES } from '../src/engine/gpu/params.ts';
import { UniformArena } from '../src/engine/gpu/uniform-arena.ts';
import { GpuTimer, median } from './gpu-timer.ts';

export interface RooflineKernel {
  type: string;
  rows: number;
  cols: number;
  weight_bytes: number;
  ms: number;
  gbps: number;
  ratio_to_copy: number;
}

export interface Roofline {
  timing: 'timestamp-query' | 'wall-clock';
  copy_bytes: number;
  copy_gbps: number;
  kernels: RooflineKernel[];
}

const TYPES = [GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K];

async function timeMedian(timer: GpuTimer, iters: number, record: (p: GPUComputePassEncoder) => void) {
  await timer.time(record); // warm-up: SwiftShader compiles pipelines on first dispatch
  const samples: number[] = [];
  for (let i = 0; i < iters; i++) samples.push(await timer.time(record));
  return median(samples);
}

export async function roofline(
  device: GPUDevice,
  opts: { sizes: number[]; iters: number; subgroups: boolean },
): Promise<Roofline> {
  const timer = new GpuTimer(device);
  const lib = KernelLibrary.for(device);

  // Copy: read + write of a buffer as large as the biggest weight tested, counting both directions.
  const copyBytes = 64 * 1024 * 1024;
  const src = device.createBuffer({ size: copyBytes, usage: GPUBufferUsage.STORAGE });
  const dst = device.createBuffer({ size: copyBytes, usage: GPUBufferUsage.STORAGE });
  const copy = await lib.get({ family: 'copy', entryPoint: 'copy4', workgroupSize: 256 });
  const bind = device.createBindGroup({
    layout: copy.pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: src } },
      { binding: 1, resource: { buffer: dst } },
    ],
  });
  const groups = copyBytes / 16 / 256;
  const gx = Math.min(groups, 65535);
  const copyMs = await timeMedian(timer, opts.iters, (p) => {
    p.setPipeline(copy.pipeline);
    p.setBindGroup(0, bind);
    p.dispatchWorkgroups(gx, Math.ceil(groups / gx));
  });
  src.destroy();
  dst.destroy();
  const copyGbps = (2 * copyBytes) / (copyMs / 1000) / 1e9;

  const step = device.createBuffer({
    size: STEP_BYTES,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(step, 0, encodeStep({ nTokens: 1, pos: 0 }));
  const arena = new UniformArena(device);
  const ops = new Ops(lib, arena, step, { subgroups: opts.subgroups });
  const kernels: RooflineKernel[] = [];
  for (const n of opts.sizes) {
    const values = new Float32Array(n * n);
    for (let i = 0; i < values.length; i++) values[i] = Math.sin(i * 0.618) * 0.1;
    const x = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE });
    const out = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE });
    for (const type of TYPES) {
      const weight = uploadWeight(device, 'w', type, quantize(type, values), n, n);
      const ds = await ops.matmul({ weight, x, out });
      const ms = await timeMedian(timer, opts.iters, (p) => recordDispatches(p, ds, 1));
      const gbps = weight.bytes / (ms / 1000) / 1e9;
      kernels.push({
        type: GgmlType[type] as string,
        rows: n,
        cols: n,
        weight_bytes: weight.bytes,
        ms,
        gbps,
        ratio_to_copy: gbps / copyGbps,
      });
      destroyWeight(weight);
    }
    x.destroy();
    out.destroy();
  }
  arena.destroy();
  step.destroy();
  return {
    timing: timer.hasTimestamps ? 'timestamp-query' : 'wall-clock',
    copy_bytes: copyBytes,
    copy_gbps: copyGbps,
    kernels,
  };
}
