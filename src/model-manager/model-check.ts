/**
 * What an operator needs to know about a GGUF file before putting it in front of citizens (issue
 * 16 item 5): does Dure's WebGPU engine run its architecture and every one of its tensor types,
 * how many parameters, will it fit a typical browser GPU, and under which licence. Platform
 * neutral: it reads only the parsed header (`readGguf`), never the tensor data.
 */
import { GgmlType, GgufValueType, type GgufFile, type GgufKv } from '../engine/gguf/types.ts';
import { ggmlTypeName, ggmlTypeTraits, isKnownGgmlType } from '../engine/gguf/quant/traits.ts';
import { GPU_WEIGHT_TYPES } from '../engine/gpu/weight-layout.ts';
import { ARCHITECTURES, modelConfig, type ModelConfig } from '../engine/model/config.ts';
import { planWeights } from '../engine/model/weights.ts';
import { DureError, UnsupportedArchitectureError, UnsupportedWeightTypeError } from '../protocol/errors.ts';

/** The KV cache length the engine uses unless told otherwise (engine.ts: min(model, 4096)). */
export const DEFAULT_CONTEXT = 4096;
/**
 * A typical browser's GPU memory budget for one page: integrated GPUs and mid-range phones give a
 * tab roughly this much before allocations fail. An assumption, stated wherever it is used.
 */
export const DEFAULT_GPU_BUDGET_BYTES = 4 * 1024 ** 3;
/** Scratch the forward pass needs besides weights and KV cache (activations, logits, staging). */
export const SCRATCH_BYTES = 64 * 1024 ** 2;

export interface UnsupportedTensor {
  name: string;
  /** ggml type name as llama.cpp prints it (Q5_0, IQ4_XS…) or `type<N>`. */
  type: string;
  reason: 'no-gpu-kernel' | 'row-length';
}

export interface FitEstimate {
  /** Bytes the weights take on the GPU (matrices as in the file, vectors as f32). */
  weightBytes: number;
  /** f32 K and V for every layer at `contextLength`. */
  kvCacheBytes: number;
  scratchBytes: number;
  totalBytes: number;
  contextLength: number;
  budgetBytes: number;
  fits: boolean;
}

export interface ModelLicense {
  /** `general.license` (an SPDX id or a short name such as `llama3.2`). */
  id: string | null;
  /** `general.license.name`, when the file names it. */
  name: string | null;
  /** `general.license.link`. */
  link: string | null;
}

export interface ModelCheck {
  name: string | null;
  architecture: string | null;
  architectureSupported: boolean;
  parameters: number;
  fileBytes: number;
  tensorTypes: Record<string, number>;
  unsupportedTensors: UnsupportedTensor[];
  license: ModelLicense;
  contextLength: number | null;
  fit: FitEstimate;
  /** The first reason the WebGPU engine would refuse the file, or null when it runs. */
  refusal: DureError | null;
}

function metaString(meta: ReadonlyMap<string, GgufKv>, key: string): string | null {
  const kv = meta.get(key);
  return kv && kv.type === GgufValueType.STRING && typeof kv.value === 'string' ? kv.value : null;
}

/** llama.cpp's spelling of a ggml type (Q4_K, IQ4_XS), as operators see it on model hubs. */
export function ggmlTypeLabel(type: number): string {
  return GgmlType[type] ?? ggmlTypeName(type);
}

/**
 * Tensors the WebGPU engine cannot run: matrices of a type with no GPU kernel or whose rows do not
 * split into the type's blocks and 32-element words (weight-layout.ts), and vectors of a type with
 * no CPU dequantizer (they are uploaded as f32).
 */
export function unsupportedTensors(file: GgufFile): UnsupportedTensor[] {
  const gpu = new Set<number>(GPU_WEIGHT_TYPES);
  const out: UnsupportedTensor[] = [];
  for (const t of file.tensors) {
    const type = ggmlTypeLabel(t.type);
    if (t.dims.length === 1) {
      const ok = isKnownGgmlType(t.type) && ggmlTypeTraits(t.type).dequantizable;
      if (!ok) out.push({ name: t.name, type, reason: 'no-gpu-kernel' });
      continue;
    }
    if (!gpu.has(t.type)) {
      out.push({ name: t.name, type, reason: 'no-gpu-kernel' });
      continue;
    }
    const k = t.dims[0]!;
    if (k % 32 !== 0 || k % ggmlTypeTraits(t.type).blockSize !== 0)
      out.push({ name: t.name, type, reason: 'row-length' });
  }
  return out;
}

function fitEstimate(file: GgufFile, cfg: ModelConfig | null, budgetBytes: number): FitEstimate {
  let weightBytes = 0;
  for (const t of file.tensors) weightBytes += t.dims.length === 1 ? t.elements * 4 : t.byteLength;
  const contextLength = cfg ? Math.min(DEFAULT_CONTEXT, cfg.contextLength) : 0;
  const kvCacheBytes = cfg ? 2 * cfg.nLayer * cfg.nKv * cfg.headDim * contextLength * 4 : 0;
  const totalBytes = weightBytes + kvCacheBytes + SCRATCH_BYTES;
  return {
    weightBytes,
    kvCacheBytes,
    scratchBytes: SCRATCH_BYTES,
    totalBytes,
    contextLength,
    budgetBytes,
    fits: totalBytes <= budgetBytes,
  };
}

/** At most this many tensors are named in a refusal message; the report lists all. */
const NAMED_IN_MESSAGE = 8;

/**
 * Checks a parsed GGUF file against Dure's WebGPU engine. Never throws for an unsupported model:
 * the reason is in `refusal` (an UnsupportedArchitectureError, ModelMetadataError,
 * UnsupportedWeightTypeError or ModelTensorError), so a report can show everything at once.
 */
export function checkModel(file: GgufFile, budgetBytes = DEFAULT_GPU_BUDGET_BYTES): ModelCheck {
  const meta = file.metadata;
  const architecture = metaString(meta, 'general.architecture');
  const tensorTypes: Record<string, number> = {};
  let parameters = 0;
  for (const t of file.tensors) {
    const label = ggmlTypeLabel(t.type);
    tensorTypes[label] = (tensorTypes[label] ?? 0) + 1;
    parameters += t.elements;
  }
  let refusal: DureError | null = null;
  let cfg: ModelConfig | null = null;
  try {
    cfg = modelConfig(file);
  } catch (e) {
    if (!(e instanceof DureError)) throw e;
    refusal = e;
  }
  const unsupported = unsupportedTensors(file);
  if (!refusal && unsupported.length > 0) {
    const named = unsupported
      .slice(0, NAMED_IN_MESSAGE)
      .map((u) => `${u.name} (${u.type}${u.reason === 'row-length' ? ', row length' : ''})`);
    const more =
      unsupported.length > NAMED_IN_MESSAGE ? ` and ${unsupported.length - NAMED_IN_MESSAGE} more` : '';
    refusal = new UnsupportedWeightTypeError(
      `weight type ${unsupported[0]!.type} has no GPU kernel: ${named.join(', ')}${more} ` +
        `(supported: ${GPU_WEIGHT_TYPES.map((t) => GgmlType[t]).join(', ')})`,
    );
  }
  if (!refusal && cfg) {
    try {
      planWeights(cfg, file);
    } catch (e) {
      if (!(e instanceof DureError)) throw e;
      refusal = e;
    }
  }
  return {
    name: metaString(meta, 'general.name'),
    architecture,
    architectureSupported:
      architecture !== null && (ARCHITECTURES as readonly string[]).includes(architecture),
    parameters,
    fileBytes: file.source.size,
    tensorTypes,
    unsupportedTensors: unsupported,
    license: {
      id: metaString(meta, 'general.license'),
      name: metaString(meta, 'general.license.name'),
      link: metaString(meta, 'general.license.link'),
    },
    contextLength: cfg?.contextLength ?? null,
    fit: fitEstimate(file, cfg, budgetBytes),
    refusal,
  };
}

export { UnsupportedArchitectureError, UnsupportedWeightTypeError };
