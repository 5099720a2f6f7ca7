/**
 * A real WebGPU probe: adapter, device, limits, and one tiny dispatch whose result is checked.
 * Platform-neutral: the caller passes its `GPU` (navigator.gpu in a browser or worker, Dawn in Node).
 */
import { GpuUnavailableError } from '../errors.ts';
import { ADAPTER_OPTIONS } from './device.ts';
import { addVectors } from './elementwise.ts';
import { KernelLibrary } from './kernel-library.ts';

export interface ProbeResult {
  /** Human-readable description of the GPU adapter. */
  gpuAdapter: string;
  features: string[];
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  /** The dispatch computed what the CPU computes. */
  dispatchOk: boolean;
  /**
   * The adapter is a CPU emulation (SwiftShader, llvmpipe/lavapipe, WARP, or the browser says it is
   * a fallback adapter): it never wins against the CPU path unless measured faster (issue 21).
   * Absent in results from before this field existed: read as "not known to be software".
   */
  software?: boolean;
  sample: number[];
}

/** What an adapter says about itself (`GPUAdapterInfo`; `isFallbackAdapter` moved there from the adapter). */
export interface AdapterIdentity {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

// Chromium's SwiftShader reports vendor "google", architecture "swiftshader"; Mesa's Vulkan
// software rasteriser is lavapipe (llvmpipe in OpenGL); Windows' is the Microsoft Basic Render
// Driver (WARP).
const SOFTWARE_NAMES = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

/** Whether the adapter emulates a GPU on the CPU. */
export function isSoftwareAdapter(info: AdapterIdentity): boolean {
  if (info.isFallbackAdapter === true) return true;
  return [info.vendor, info.architecture, info.device, info.description].some(
    (s) => typeof s === 'string' && SOFTWARE_NAMES.test(s),
  );
}

/** @throws {GpuUnavailableError} when there is no WebGPU or no adapter. */
export async function probeWebGpu(gpu: GPU | undefined): Promise<ProbeResult> {
  if (!gpu)
    throw new GpuUnavailableError('WebGPU is not available in this context (navigator.gpu is missing).');
  const gpuAdapter = await gpu.requestAdapter(ADAPTER_OPTIONS);
  if (!gpuAdapter) throw new GpuUnavailableError('WebGPU is present but no adapter was found.');
  const device = await gpuAdapter.requestDevice();
  try {
    const a = Float32Array.from([1, 2, 3, 4, 5]);
    const b = Float32Array.from([10, 20, 30, 40, 50]);
    const out = await addVectors(new KernelLibrary(device), a, b, 2);
    const dispatchOk = out.every((v, i) => v === (a[i] ?? 0) + 2 * (b[i] ?? 0));
    const adapterInfo = gpuAdapter.info;
    const { limits } = gpuAdapter;
    return {
      gpuAdapter:
        [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.device, adapterInfo.description]
          .filter(Boolean)
          .join(' ') || 'unknown',
      features: [...gpuAdapter.features].sort(),
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      dispatchOk,
      software: isSoftwareAdapter({
        vendor: adapterInfo.vendor,
        architecture: adapterInfo.architecture,
        device: adapterInfo.device,
        description: adapterInfo.description,
        isFallbackAdapter:
          (adapterInfo as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
          (gpuAdapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
      }),
      sample: [...out],
    };
  } finally {
    device.destroy();
  }
}
