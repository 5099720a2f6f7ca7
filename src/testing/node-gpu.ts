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

let lavapipe: Promise<NodeGpu> | undefined;

/**
 * Mesa's lavapipe: the second software adapter, the one with shader-f16, for the f16 kernel
 * variants. Fails loudly when it is missing or lacks f16 (.ci/run installs it).
 */
export function testF16Gpu(): Promise<NodeGpu> {
  lavapipe ??= requestNodeGpu({ gpuAdapterName: 'llvmpipe' }).then((g) => {
    if (!g.device.features.has('shader-f16')) throw new Error(`${g.description} has no shader-f16`);
    return g;
  });
  return lavapipe;
}

let training: Promise<NodeGpu> | undefined;

/**
 * Lavapipe without shader-f16 (so every f32 tolerance holds as on SwiftShader), for the tests
 * that train: their dispatches are few and large, where lavapipe's vectorised LLVM code runs
 * about twice as fast as SwiftShader (trainer.test: 111 s against 240 s of CPU on this machine),
 * while SwiftShader compiles faster and so stays the default for the many-kernel engine tests.
 * Fails loudly when lavapipe is missing (.ci/run installs it).
 */
export function testTrainingGpu(): Promise<NodeGpu> {
  training ??= requestNodeGpu({
    gpuAdapterName: 'llvmpipe',
    features: ['subgroups', 'timestamp-query'] as GPUFeatureName[],
  });
  return training;
}

export async function testKernelLibrary(): Promise<KernelLibrary> {
  return new KernelLibrary((await testGpu()).device);
}
