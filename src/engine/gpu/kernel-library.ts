/**
 * Compiles kernel variants on demand and caches them by a typed key. The variant label is
 * the pipeline label, and the numbers a shader was compiled with (workgroup size) travel
 * with the pipeline so dispatch maths reads only those.
 */
import { ShaderError } from '../errors.ts';
import { kernelFamilies, quantSnippets, wgslIncludes, type KernelFamily } from './sources.ts';
import { preprocessWgsl, type Defines } from './wgsl-preprocess.ts';
import { ggmlTypeName } from '../gguf/quant/traits.ts';
import type { GgmlType } from '../gguf/types.ts';
import { quantSnippetName } from './weight-layout.ts';

export interface KernelKey {
  family: KernelFamily;
  entryPoint: string;
  workgroupSize: number;
  /** Weight type of kernels that include "quant": selects its decoder snippet from the registry. */
  quant?: GgmlType;
  defines?: Defines;
  /**
   * Binding types of group 0 in binding order, for a kernel whose bindings must all stay in its
   * layout even when its code leaves one unused (the 'auto' layout drops those, and a bind group
   * that names them is then invalid): the float GEMV reads its weight only through the 16-byte
   * view W4, never through W. A function of the family and defines, so it is not in the label.
   */
  bindings?: readonly GPUBufferBindingType[];
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
  const quant = key.quant === undefined ? [] : [`q=${ggmlTypeName(key.quant)}`];
  return [key.family, key.entryPoint, `wg${key.workgroupSize}`, ...quant, ...defs].join(':');
}

const perDevice = new WeakMap<GPUDevice, KernelLibrary>();

export class KernelLibrary {
  readonly #cache = new Map<string, Promise<Kernel>>();
  constructor(readonly device: GPUDevice) {}

  /** The device's shared library: pipelines compile once per device, not once per model load. */
  static for(device: GPUDevice): KernelLibrary {
    let lib = perDevice.get(device);
    if (!lib) {
      lib = new KernelLibrary(device);
      perDevice.set(device, lib);
    }
    return lib;
  }

  /**
   * @throws {ShaderError} when the WGSL does not compile (messages include line numbers).
   */
  get(key: KernelKey): Promise<Kernel> {
    const label = kernelLabel(key);
    let hit = this.#cache.get(label);
    if (!hit) {
      hit = this.#compile(key, label);
      this.#cache.set(label, hit);
      // A failed compile is not cached, so a later call reports the error again.
      hit.catch(() => this.#cache.delete(label));
    }
    return hit;
  }

  async #compile(key: KernelKey, label: string): Promise<Kernel> {
    const defines: Defines = { ...key.defines, WG_SIZE: key.workgroupSize };
    // `enable` directives must precede everything else in the module.
    const enables = [defines['SUBGROUPS'] ? 'enable subgroups;' : '', defines['F16'] ? 'enable f16;' : '']
      .filter(Boolean)
      .join('\n');
    const includes =
      key.quant === undefined
        ? wgslIncludes
        : { ...wgslIncludes, 'quant-type': quantSnippets[quantSnippetName(key.quant)] ?? '' };
    const body = preprocessWgsl(kernelFamilies[key.family], defines, includes);
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
      layout: key.bindings ? this.#layout(label, key.bindings) : 'auto',
      compute: { module, entryPoint: key.entryPoint },
    });
    const err = await this.device.popErrorScope();
    if (err) throw new ShaderError(`${label}: ${err.message}`);
    return { pipeline, workgroupSize: key.workgroupSize, label };
  }

  #layout(label: string, bindings: readonly GPUBufferBindingType[]): GPUPipelineLayout {
    const group = this.device.createBindGroupLayout({
      label,
      entries: bindings.map((type, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type },
      })),
    });
    return this.device.createPipelineLayout({ label, bindGroupLayouts: [group] });
  }
}
