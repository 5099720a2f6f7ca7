/**
 * `npm run bench:gpu [-- --smoke]`: Dure (Node, Dawn) and llama.cpp (node-llama-cpp's prebuilt
 * Vulkan build, else CUDA, else CPU) on the same GGUF — a Qwen2.5-1.5B-shaped Q4_K_M, or a tiny
 * one with --smoke — printing ONE JSON line on stdout (progress goes to stderr):
 *   {"adapter", "dure": {decode_tok_s, prefill_tok_s, pct_copy_bandwidth, …}, "llama_cpp": {…}, "ratio", …}
 * Started without a Vulkan driver setting so that Dawn finds the machine's real GPU; only when it
 * finds none does it run again on SwiftShader (scripts/with-gpu-env.mjs's settings).
 */
import { spawnSync } from 'node:child_process';
import { isCpuEmulatedAdapter } from '../src/engine/gpu/device.ts';
import { softwareVulkanEnv } from '../src/node/gpu-env.mjs';
import { requestNodeGpu } from '../src/node/webgpu.ts';
import { compareSizes, gpuCompare } from './gpu-compare.ts';

const smoke = process.argv.includes('--smoke');
const RETRIED = 'DURE_BENCH_GPU_SOFTWARE';

/** Runs this script again with SwiftShader, the software adapter the project is tested on. */
function onSwiftShader(why: string): never {
  console.error(`bench:gpu: ${why}; running on SwiftShader`);
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ...softwareVulkanEnv(), [RETRIED]: '1' },
  });
  process.exit(r.status ?? 1);
}
const canRetry = !process.env[RETRIED] && Object.keys(softwareVulkanEnv()).length > 0;

let gpu;
try {
  gpu = await requestNodeGpu();
} catch (e) {
  if (!canRetry) throw e;
  onSwiftShader('no GPU adapter with this machine’s drivers');
}
// Without a GPU, Dawn may pick Mesa's lavapipe, which the engine is not tested on as a default
// (it stalled in a smoke run); SwiftShader is.
if (isCpuEmulatedAdapter(gpu.device) && canRetry) {
  gpu.device.destroy();
  onSwiftShader(`only a software adapter (${gpu.description})`);
}
console.error(`bench:gpu: adapter ${gpu.description}${smoke ? ' [smoke]' : ''}`);
if (!smoke && isCpuEmulatedAdapter(gpu.device)) {
  // A 1 GB model on a ~1 GB/s software adapter would take most of an hour and measure nothing.
  console.error(`bench:gpu: no GPU adapter, only ${gpu.description}: the full run needs a GPU; try --smoke`);
  process.exit(2);
}
const result = await gpuCompare(gpu.device, gpu.description, compareSizes(smoke), smoke);
console.log(JSON.stringify(result));
process.exit(0);
