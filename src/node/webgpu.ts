/**
 * Node shell for WebGPU: Dawn (the `webgpu` npm package) on whatever Vulkan driver the machine has
 * — on a machine without a GPU, Chromium's SwiftShader. The single place where Node code (tests,
 * CLI, benchmarks) gets an adapter. See ../shared/DESIGN.md §4.
 */
import { SWIFTSHADER_ICD } from '../../scripts/gpu-env.mjs';
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

// Dawn crashes mid-dispatch if its GPU instance is garbage-collected while a device lives
// (DESIGN.md §4), so the instance is kept for the process lifetime.
let gpuInstance: GPU | undefined;

async function dawn(): Promise<GPU> {
  if (!gpuInstance) {
    const mod = (await import('webgpu')) as unknown as DawnModule;
    Object.assign(globalThis, mod.globals);
    gpuInstance = mod.create([]);
  }
  return gpuInstance;
}

export type NodeGpu = GpuHandle;

/**
 * A Dawn device with the adapter's maximum limits and the optional features Dure uses.
 * @throws {GpuUnavailableError} that says how to fix the machine.
 */
export async function requestNodeGpu(opts: { features?: GPUFeatureName[] } = {}): Promise<NodeGpu> {
  return requestBestDevice(await dawn(), { ...opts, hint: FIX_HINT });
}
