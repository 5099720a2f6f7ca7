/**
 * The one place tests get a GPU in Node. Fails loudly (never skips) when no adapter exists:
 * a WebGPU test that silently skips on CI proves nothing.
 */
import { KernelLibrary } from '../engine/gpu/kernel-library.ts';
import { requestNodeGpu, type NodeGpu } from '../node/webgpu.ts';

let shared: Promise<NodeGpu> | undefined;

/** One device per test process, reused across test files in that process. */
export function testGpu(): Promise<NodeGpu> {
  shared ??= requestNodeGpu();
  return shared;
}

export async function testKernelLibrary(): Promise<KernelLibrary> {
  return new KernelLibrary((await testGpu()).device);
}
