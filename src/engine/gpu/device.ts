/**
 * Adapter and device acquisition shared by every shell (browser worker, Node CLI, tests): the
 * adapter's maximum limits for the sizes that bound models, and the optional features Dure uses.
 */
import { GpuUnavailableError } from '../errors.ts';

export interface GpuHandle {
  gpuAdapter: GPUAdapter;
  device: GPUDevice;
  /** Human-readable adapter description. */
  description: string;
}

/**
 * A dual-GPU laptop hands out its integrated GPU unless asked otherwise; the discrete one decodes
 * several times faster, and a language model is the workload the hint is for.
 */
export const ADAPTER_OPTIONS: GPURequestAdapterOptions = { powerPreference: 'high-performance' };

const WANTED: GPUFeatureName[] = ['subgroups', 'shader-f16', 'timestamp-query'] as GPUFeatureName[];

/**
 * @param features optional features to request when available (default: subgroups, shader-f16, timestamp-query)
 * @throws {GpuUnavailableError} with `hint` appended when there is no adapter.
 */
export async function requestBestDevice(
  gpu: GPU | undefined,
  opts: { features?: GPUFeatureName[]; hint?: string } = {},
): Promise<GpuHandle> {
  const hint = opts.hint ? ` ${opts.hint}` : '';
  if (!gpu) throw new GpuUnavailableError(`WebGPU is not available here.${hint}`);
  let gpuAdapter: GPUAdapter | null;
  try {
    gpuAdapter = await gpu.requestAdapter(ADAPTER_OPTIONS);
  } catch (cause) {
    throw new GpuUnavailableError(`requesting a WebGPU adapter failed.${hint}`, { cause });
  }
  if (!gpuAdapter) throw new GpuUnavailableError(`no WebGPU adapter was found.${hint}`);
  const requiredFeatures = (opts.features ?? WANTED).filter((f) => gpuAdapter.features.has(f));
  const l = gpuAdapter.limits;
  const device = await gpuAdapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  const adapterInfo = gpuAdapter.info;
  const description =
    [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.device, adapterInfo.description]
      .filter(Boolean)
      .join(' ') || 'unknown adapter';
  return { gpuAdapter, device, description };
}

/**
 * True for adapters that emulate a GPU on the CPU (SwiftShader, llvmpipe/lavapipe, WARP): there a
 * workgroup barrier makes the driver switch between invocations and workgroup memory is ordinary
 * memory, which costs the fused layer kernels 10–40 % (measured: bench `decode_unfused`), while on a
 * GPU both are nearly free and the fused kernels save launches and memory round trips.
 */
export function isCpuEmulatedAdapter(device: GPUDevice): boolean {
  const { adapterInfo } = device as GPUDevice & {
    adapterInfo?: GPUAdapterInfo & { isFallbackAdapter?: boolean };
  };
  if (!adapterInfo) return false;
  if (adapterInfo.isFallbackAdapter) return true;
  const text = [
    adapterInfo.vendor,
    adapterInfo.architecture,
    adapterInfo.device,
    adapterInfo.description,
  ].join(' ');
  return /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i.test(text);
}
