/**
 * Node shell for WebGPU: Dawn (the `webgpu` npm package) on whatever Vulkan driver the machine has
 * — on a machine without a GPU, Chromium's SwiftShader. The single place where Node code (tests,
 * CLI, benchmarks) gets a GPU adapter, so the machine-specific setup lives in one file.
 */
import { SWIFTSHADER_ICD } from './gpu-env.mjs';
import { requestBestDevice, type GpuHandle } from '../engine/gpu/device.ts';

const FIX_HINT =
  'On a machine without a GPU install Chromium (`apt-get install -y chromium`) ' +
  "so that SwiftShader's Vulkan driver exists at " +
  SWIFTSHADER_ICD +
  ', and start Node through the npm scripts or `npx dure` (they set VK_ICD_FILENAMES and ' +
  'LD_LIBRARY_PATH; scripts/gpu-env.mjs).';

interface DawnModule {
  create(options: string[]): GPU;
  globals: object;
}

// Dawn crashes mid-dispatch if its GPU instance is garbage-collected while a device lives, so
// instances are kept for the process lifetime, one per GPU adapter filter.
const instances = new Map<string, GPU>();

async function dawn(gpuAdapterName = ''): Promise<GPU> {
  let gpu = instances.get(gpuAdapterName);
  if (!gpu) {
    const mod = (await import('webgpu')) as unknown as DawnModule;
    Object.assign(globalThis, mod.globals);
    gpu = mod.create(gpuAdapterName ? [`adapter=${gpuAdapterName}`] : []);
    instances.set(gpuAdapterName, gpu);
  }
  return gpu;
}

export type NodeGpu = GpuHandle;

/**
 * A Dawn device with the GPU adapter's maximum limits and the optional features Dure uses.
 * @param opts.gpuAdapterName only GPU adapters whose name contains this (e.g. 'llvmpipe' for
 *   Mesa's lavapipe, the software adapter with shader-f16); default: Dawn's first choice.
 * @throws {GpuUnavailableError} that says how to fix the machine.
 */
export async function requestNodeGpu(
  opts: { features?: GPUFeatureName[]; gpuAdapterName?: string } = {},
): Promise<NodeGpu> {
  const { gpuAdapterName, ...rest } = opts;
  const hint = gpuAdapterName
    ? `No adapter named like "${gpuAdapterName}". For lavapipe install Mesa >= 24's Vulkan drivers ` +
      '(`apt-get install -y -t bookworm-backports mesa-vulkan-drivers` on Debian 12; .ci/run does) ' +
      'and start Node through the npm scripts (scripts/gpu-env.mjs lists its driver).'
    : FIX_HINT;
  return requestBestDevice(await dawn(gpuAdapterName), { ...rest, hint });
}
