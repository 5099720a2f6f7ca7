/**
 * Shared setup for CLI commands that run the WebGPU engine: a Dawn device (software adapter on a
 * machine without a GPU) announced on stderr, and the model opened lazily from disk.
 */
import { WebGpuEngine } from '../../engine/engine.ts';
import { FileSource } from '../../node/file-source.ts';
import { requestNodeGpu } from '../../node/webgpu.ts';

export async function openEngine(modelPath: string): Promise<WebGpuEngine> {
  const gpu = await requestNodeGpu();
  process.stderr.write(`dure: WebGPU adapter: ${gpu.description}\n`);
  // A lost device (driver reset) is replaced and the conversation continues.
  const engine = new WebGpuEngine(gpu.device, { recoverDevice: async () => (await requestNodeGpu()).device });
  await engine.loadSource(await FileSource.open(modelPath));
  return engine;
}
