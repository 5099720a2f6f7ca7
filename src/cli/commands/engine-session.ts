/**
 * Shared setup for CLI commands that run the WebGPU engine: a Dawn device (software adapter on a
 * machine without a GPU) announced on stderr, and the model opened lazily from disk.
 */
import { WebGpuEngine } from '../../engine/engine.ts';
import { DureError } from '../../engine/errors.ts';
import { FileSource } from '../../node/file-source.ts';
import { requestNodeGpu } from '../../node/webgpu.ts';

export async function openEngine(modelPath: string): Promise<WebGpuEngine> {
  const gpu = await requestNodeGpu();
  process.stderr.write(`dure: WebGPU adapter: ${gpu.description}\n`);
  const engine = new WebGpuEngine(gpu.device);
  await engine.loadSource(await FileSource.open(modelPath));
  return engine;
}

export function parseIds(s: string): number[] {
  const ids = s.split(',').map((x) => x.trim());
  if (ids.some((x) => !/^\d+$/.test(x)))
    throw new DureError('CLI_ARGS', `--prompt-ids must be comma-separated integers`);
  return ids.map(Number);
}

export function usageError(message: string): DureError {
  return new DureError('CLI_ARGS', message);
}

/** Prints `error <CODE>: message` and returns the exit code. */
export function reportError(e: unknown): number {
  const code = e instanceof DureError ? e.code : 'INTERNAL';
  process.stderr.write(`error ${code}: ${(e as Error).message ?? String(e)}\n`);
  return code === 'CLI_ARGS' ? 2 : 1;
}
