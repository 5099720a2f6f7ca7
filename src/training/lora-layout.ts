/**
 * Where each LoRA matrix lives in the trainer's packed buffers: all lora_A matrices in one buffer,
 * all lora_B in another (so FFA-LoRA simply leaves the A buffer alone, and AdamW is one dispatch
 * per buffer). Offsets are aligned for storage-buffer binding offsets (256 bytes).
 */
import type { ModelConfig } from '../engine/model/config.ts';
import { isPeftModule, peftTensorName, type LoraTensors } from '../protocol/adapter-codec.ts';
import { AdapterMismatchError } from './errors.ts';

/** Floats per 256-byte binding alignment. */
const ALIGN = 64;

export interface LoraSlot {
  layer: number;
  module: string;
  nameA: string;
  nameB: string;
  inFeatures: number;
  outFeatures: number;
  /** Float offsets into the packed A and B buffers. */
  offsetA: number;
  offsetB: number;
}

export interface LoraLayout {
  rank: number;
  alpha: number;
  scale: number;
  targetModules: string[];
  slots: LoraSlot[];
  floatsA: number;
  floatsB: number;
}

/** [in, out] features of a target module for a model config. */
export function moduleDims(cfg: ModelConfig, module: string): [number, number] {
  const q = cfg.nHead * cfg.headDim;
  const kv = cfg.nKv * cfg.headDim;
  const dims: Record<string, [number, number]> = {
    q_proj: [cfg.nEmbd, q],
    k_proj: [cfg.nEmbd, kv],
    v_proj: [cfg.nEmbd, kv],
    o_proj: [q, cfg.nEmbd],
    gate_proj: [cfg.nEmbd, cfg.nFf],
    up_proj: [cfg.nEmbd, cfg.nFf],
    down_proj: [cfg.nFf, cfg.nEmbd],
  };
  const d = dims[module];
  if (!d) throw new AdapterMismatchError(`unknown LoRA target module ${module}`);
  return d;
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** @throws {AdapterMismatchError} for unknown modules or a bad rank. */
export function loraLayout(
  cfg: ModelConfig,
  lora: Pick<LoraTensors, 'rank' | 'alpha' | 'targetModules'>,
): LoraLayout {
  if (!Number.isInteger(lora.rank) || lora.rank < 1 || lora.rank > 1024)
    throw new AdapterMismatchError(`LoRA rank ${lora.rank} is not an integer in 1..1024`);
  if (!(lora.alpha > 0) || !Number.isFinite(lora.alpha))
    throw new AdapterMismatchError(`LoRA alpha ${lora.alpha} must be a positive number`);
  if (lora.targetModules.length === 0) throw new AdapterMismatchError('the adapter targets no module');
  const seen = new Set<string>();
  for (const m of lora.targetModules) {
    if (!isPeftModule(m)) throw new AdapterMismatchError(`unknown LoRA target module ${m}`);
    if (seen.has(m)) throw new AdapterMismatchError(`target module ${m} is listed twice`);
    seen.add(m);
  }
  const slots: LoraSlot[] = [];
  let a = 0;
  let b = 0;
  for (let layer = 0; layer < cfg.nLayer; layer++) {
    for (const module of lora.targetModules) {
      const [inFeatures, outFeatures] = moduleDims(cfg, module);
      slots.push({
        layer,
        module,
        nameA: peftTensorName(layer, module, 'A'),
        nameB: peftTensorName(layer, module, 'B'),
        inFeatures,
        outFeatures,
        offsetA: a,
        offsetB: b,
      });
      a += align(lora.rank * inFeatures);
      b += align(outFeatures * lora.rank);
    }
  }
  return {
    rank: lora.rank,
    alpha: lora.alpha,
    scale: lora.alpha / lora.rank,
    targetModules: [...lora.targetModules],
    slots,
    floatsA: Math.max(a, ALIGN),
    floatsB: Math.max(b, ALIGN),
  };
}

/**
 * Packs an adapter's tensors into the layout's A and B arrays.
 * @throws {AdapterMismatchError} for a missing, extra, mis-shaped or non-finite tensor.
 */
export function packAdapter(layout: LoraLayout, adapter: LoraTensors): { a: Float32Array; b: Float32Array } {
  if (adapter.rank !== layout.rank || adapter.alpha !== layout.alpha)
    throw new AdapterMismatchError(
      `adapter rank/alpha ${adapter.rank}/${adapter.alpha} differ from the trainer's ${layout.rank}/${layout.alpha}`,
    );
  if (adapter.targetModules.join(',') !== layout.targetModules.join(','))
    throw new AdapterMismatchError(
      `adapter targets ${adapter.targetModules.join(',')}, the trainer ${layout.targetModules.join(',')}`,
    );
  const a = new Float32Array(layout.floatsA);
  const b = new Float32Array(layout.floatsB);
  const expected = new Set<string>();
  const put = (name: string, dst: Float32Array, offset: number, size: number) => {
    expected.add(name);
    const data = adapter.tensors.get(name);
    if (!data) throw new AdapterMismatchError(`adapter tensor ${name} is missing`);
    if (data.length !== size)
      throw new AdapterMismatchError(`adapter tensor ${name} has ${data.length} values, expected ${size}`);
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]))
        throw new AdapterMismatchError(`adapter tensor ${name} has a non-finite value`);
    }
    dst.set(data, offset);
  };
  for (const s of layout.slots) {
    put(s.nameA, a, s.offsetA, layout.rank * s.inFeatures);
    put(s.nameB, b, s.offsetB, s.outFeatures * layout.rank);
  }
  for (const name of adapter.tensors.keys()) {
    if (!expected.has(name))
      throw new AdapterMismatchError(`adapter tensor ${name} is not part of this model`);
  }
  return { a, b };
}

/** The inverse of packAdapter (copies). `parts` selects which matrices to return. */
export function unpackAdapter(
  layout: LoraLayout,
  a: Float32Array | undefined,
  b: Float32Array | undefined,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const s of layout.slots) {
    if (a) out.set(s.nameA, a.slice(s.offsetA, s.offsetA + layout.rank * s.inFeatures));
    if (b) out.set(s.nameB, b.slice(s.offsetB, s.offsetB + s.outFeatures * layout.rank));
  }
  return out;
}
