/**
 * Compiles kernel variants on demand and caches them by a typed key. The variant label is
 * the pipeline label, and the numbers a shader was compiled with (workgroup size) travel
 * with the pipeline so dispatch maths reads only those.
 */
import { ShaderError } from '../errors.ts';
import { kernelFamilies, wgslIncludes, type KernelFamily } from './sources.ts';
import { preprocessWgsl, type Defines } from './wgsl-preprocess.ts';

export interface KernelKey {
  family: KernelFamily;
  entryPoint: string;
  workgroupSize: number;
  defines?: Defines;
}

export interface Kernel {
  pipeline: GPUComputePipeline;
  workgroupSize: number;
  label: string;
}

export function kernelLabel(key: KernelKey): string {
  const defs = Object.entries(key.defines ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => (v === true ? k : `${k}=${String(v)}`));
  return [key.family, key.entryPoint, `wg${key.workgroupSize}`, ...defs].join(':');
}

export class KernelLibrary {
  readonly #cache = new Map<string, Kernel>();
  constructor(readonly device: GPUDevice) {}

  /**
   * @throws {ShaderError} when the WGSL does not compile (messages include line numbers).
   */
  async get(key: KernelKey): Promise<Kernel> {
    const label = kernelLabel(key);
    const hit = this.#cache.get(label);
    if (hit) return hit;
    const defines: Defines = { ...key.defines, WG_SIZE: key.workgroupSize };
    // `enable` directives must precede everything else in the module.
    const enables = [defines['SUBGROUPS'] ? 'enable subgroups;' : '', defines['F16'] ? 'enable f16;' : '']
      .filter(Boolean)
      .join('\n');
    const body = preprocessWgsl(kernelFamilies[key.family], defines, wgslIncludes);
    const code = enables ? `${enables}\n${body}` : body;
    const module = this.device.createShaderModule({ label, code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) {
      throw new ShaderError(
        `${label}: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}`,
      );
    }
    this.device.pushErrorScope('validation');
    const pipeline = await this.device.createComputePipelineAsync({
      label,
      layout: 'auto',
      compute: { module, entryPoint: key.entryPoint },
    });
    const err = await this.device.popErrorScope();
    if (err) throw new ShaderError(`${label}: ${err.message}`);
    const kernel = { pipeline, workgroupSize: key.workgroupSize, label };
    this.#cache.set(label, kernel);
    return kernel;
  }
}
