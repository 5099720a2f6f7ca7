/**
 * Node shell for WebGPU: Dawn (the `webgpu` npm package) on whatever Vulkan driver the machine has
 * — on a machine without a GPU, Chromium's SwiftShader. The single place where Node code (tests,
 * CLI, benchmarks) gets an adapter. See ../shared/DESIGN.md §4.
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

// Dawn crashes mid-dispatch if its GPU instance is garbage-collected while a device lives
// (DESIGN.md §4), so instances are kept for the process lifetime, one per adapter filter.
const instances = new Map<string, GPU>();

async function dawn(adapterName = ''): Promise<GPU> {
  let gpu = instances.get(adapterName);
  if (!gpu) {
    const mod = (await import('webgpu')) as unknown as DawnModule;
    Object.assign(globalThis, mod.globals);
    gpu = mod.create(adapterName ? [`adapter=${adapterName}`] : []);
    instances.set(adapterName, gpu);
  }
  return gpu;
}

export type NodeGpu = GpuHandle;

/**
 * A Dawn device with the adapter's maximum limits and the optional features Dure uses.
 * @param opts.adapterName only adapters whose name contains this (e.g. 'llvmpipe' for Mesa's
 *   lavapipe, the software adapter with shader-f16); default: Dawn's first choice.
 * @throws {GpuUnavailableError} that says how to fix the machine.
 */
export async function requestNodeGpu(
  opts: { features?: GPUFeatureName[]; adapterName?: string } = {},
): Promise<NodeGpu> {
  const { adapterName, ...rest } = opts;
  const hint = adapterName
    ? `No adapter named like "${adapterName}". For lavapipe install Mesa >= 24's Vulkan drivers ` +
      '(`apt-get install -y -t bookworm-backports mesa-vulkan-drivers` on Debian 12; .ci/run does) ' +
      'and start Node through the npm scripts (scripts/gpu-env.mjs lists its driver).'
    : FIX_HINT;
  return requestBestDevice(await dawn(adapterName), { ...rest, hint });
}
