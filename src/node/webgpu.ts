/**
 * Node shell for WebGPU: Dawn (the `webgpu` npm package) on whatever Vulkan
 * driver the machine has — on a machine without a GPU, Chromium's SwiftShader.
 *
 * This is the single place where Node code (tests, CLI, benchmarks) gets an
 * adapter. See ../shared/DESIGN.md §4.
 */
import { SWIFTSHADER_ICD } from '../../scripts/gpu-env.mjs';
import { GpuUnavailableError } from '../engine/errors.ts';

const FIX_HINT =
  'No WebGPU adapter. On a machine without a GPU install Chromium (`apt-get install -y chromium`) ' +
  "so that SwiftShader's Vulkan driver exists at " +
  SWIFTSHADER_ICD +
  ', and start Node through ' +
  'the npm scripts or `npx dure` (they set VK_ICD_FILENAMES and LD_LIBRARY_PATH; scripts/gpu-env.mjs).';

interface DawnModule {
  create(options: string[]): GPU;
  globals: object;
}

// Dawn crashes mid-dispatch if its GPU instance is garbage-collected while a
// device lives (DESIGN.md §4), so the instance is kept for the process lifetime.
let gpuInstance: GPU | undefined;

async function dawn(): Promise<GPU> {
  if (!gpuInstance) {
    const mod = (await import('webgpu')) as unknown as DawnModule;
    Object.assign(globalThis, mod.globals);
    gpuInstance = mod.create([]);
  }
  return gpuInstance;
}

export interface NodeGpu {
  adapter: GPUAdapter;
  device: GPUDevice;
  /** Human-readable adapter description, e.g. for stderr. */
  description: string;
}

/**
 * Requests an adapter and a device with the adapter's maximum limits and the optional
 * features Dure uses. Throws a `GpuUnavailableError` that says how to fix the machine.
 * @throws {GpuUnavailableError}
 */
export async function requestNodeGpu(
  opts: { features?: GPUFeatureName[]; powerPreference?: GPUPowerPreference } = {},
): Promise<NodeGpu> {
  let adapter: GPUAdapter | null;
  try {
    adapter = await (
      await dawn()
    ).requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
  } catch (cause) {
    throw new GpuUnavailableError(FIX_HINT, { cause });
  }
  if (!adapter) throw new GpuUnavailableError(FIX_HINT);
  const wanted = opts.features ?? (['subgroups', 'shader-f16', 'timestamp-query'] as GPUFeatureName[]);
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: pickLimits(adapter.limits),
  });
  const info = adapter.info;
  const description =
    [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') ||
    'unknown adapter';
  return { adapter, device, description };
}

/** Ask for everything the adapter offers for the limits that bound model size. */
export function pickLimits(l: GPUSupportedLimits): Record<string, number> {
  return {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
}
