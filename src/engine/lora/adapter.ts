/**
 * LoRA adapters at inference: validation of PEFT-named tensors against a loaded model, and the
 * stacking of several adapters into one low-rank term per target module.
 *
 * Why stack: y = W·x + Σᵢ sᵢ·Bᵢ·(Aᵢ·x) = W·x + [s₁B₁ | s₂B₂ | …]·([A₁; A₂; …]·x) exactly, so any
 * number of adapters costs one shrink and one expand dispatch per module, and swapping adapters
 * only rebuilds these small matrices — never the base weights.
 */
import {
  isPeftModule,
  MAX_LORA_RANK,
  PEFT_MODULE_BLOCKS,
  PEFT_MODULE_GGUF,
  parsePeftTensorName,
  type LoraTensors,
  type PeftModule,
  type PeftTensorName,
} from '../../protocol/adapter-codec.ts';
import type { ModelConfig } from '../model/config.ts';
import { LoraAdapterError } from './errors.ts';

/**
 * PEFT target modules Dure applies, with the block PEFT nests them in (from the adapter codec,
 * src/protocol/adapter-codec.ts) and llama.cpp's tensor name (from the same codec).
 */
export const LORA_MODULES = {
  q_proj: { block: PEFT_MODULE_BLOCKS.q_proj, gguf: PEFT_MODULE_GGUF.q_proj },
  k_proj: { block: PEFT_MODULE_BLOCKS.k_proj, gguf: PEFT_MODULE_GGUF.k_proj },
  v_proj: { block: PEFT_MODULE_BLOCKS.v_proj, gguf: PEFT_MODULE_GGUF.v_proj },
  o_proj: { block: PEFT_MODULE_BLOCKS.o_proj, gguf: PEFT_MODULE_GGUF.o_proj },
  gate_proj: { block: PEFT_MODULE_BLOCKS.gate_proj, gguf: PEFT_MODULE_GGUF.gate_proj },
  up_proj: { block: PEFT_MODULE_BLOCKS.up_proj, gguf: PEFT_MODULE_GGUF.up_proj },
  down_proj: { block: PEFT_MODULE_BLOCKS.down_proj, gguf: PEFT_MODULE_GGUF.down_proj },
} as const satisfies Record<PeftModule, { block: string; gguf: string }>;
export type LoraModule = PeftModule;

/** Bounds that keep a hostile or mistaken adapter from exhausting memory. */
export const LORA_LIMITS = {
  maxRank: MAX_LORA_RANK,
  maxAdapters: 8,
  /** Float32 values per adapter (128 MiB). */
  maxValues: 32 * 1024 * 1024,
  /** |scale| above this is surely a mistake (and would overflow f16 activations elsewhere). */
  maxScale: 1e4,
} as const;

/** The model dimensions an adapter must fit. */
export type LoraModelDims = Pick<ModelConfig, 'nLayer' | 'nEmbd' | 'nHead' | 'nKv' | 'headDim' | 'nFf'>;

/** [in, out] features of a target module's weight for a model. */
export function moduleDims(cfg: LoraModelDims, m: LoraModule): { inFeatures: number; outFeatures: number } {
  const q = cfg.nHead * cfg.headDim;
  const kv = cfg.nKv * cfg.headDim;
  switch (m) {
    case 'q_proj':
      return { inFeatures: cfg.nEmbd, outFeatures: q };
    case 'k_proj':
    case 'v_proj':
      return { inFeatures: cfg.nEmbd, outFeatures: kv };
    case 'o_proj':
      return { inFeatures: q, outFeatures: cfg.nEmbd };
    case 'gate_proj':
    case 'up_proj':
      return { inFeatures: cfg.nEmbd, outFeatures: cfg.nFf };
    case 'down_proj':
      return { inFeatures: cfg.nFf, outFeatures: cfg.nEmbd };
  }
}

export function isLoraModule(m: string): m is LoraModule {
  return isPeftModule(m);
}

/** Layer, module and matrix of a PEFT LoRA tensor name, or undefined when it is not one. */
export function parsePeftName(name: string): PeftTensorName | undefined {
  return parsePeftTensorName(name);
}

/** One module's matrices of one adapter, validated: A [rank, in], B [out, rank], row-major f32. */
export interface LoraPair {
  layer: number;
  module: LoraModule;
  a: Float32Array;
  b: Float32Array;
}

export interface ValidatedAdapter {
  name: string;
  rank: number;
  alpha: number;
  /** User scale × alpha / rank: the factor applied to B·A. */
  factor: number;
  pairs: LoraPair[];
}

function allFinite(v: Float32Array): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return false;
  return true;
}

/**
 * Checks an adapter against a model: rank, alpha, scale, target modules, every tensor name (PEFT
 * form, a known module, a layer of the model), data lengths against the model's shapes, A and B
 * present in pairs, finite values and size bounds.
 * @throws {LoraAdapterError} naming the first problem found.
 */
export function validateAdapter(
  name: string,
  lora: LoraTensors,
  cfg: LoraModelDims,
  scale = 1,
): ValidatedAdapter {
  const where = `adapter ${JSON.stringify(name)}`;
  if (typeof name !== 'string' || name.length === 0 || name.length > 200)
    throw new LoraAdapterError('an adapter needs a name of 1 to 200 characters');
  if (!lora || typeof lora !== 'object' || !(lora.tensors instanceof Map))
    throw new LoraAdapterError(`${where}: expected { rank, alpha, targetModules, tensors: Map }`);
  const { rank, alpha } = lora;
  if (!Number.isInteger(rank) || rank < 1 || rank > LORA_LIMITS.maxRank)
    throw new LoraAdapterError(`${where}: rank ${rank} is not an integer in 1..${LORA_LIMITS.maxRank}`);
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0)
    throw new LoraAdapterError(`${where}: lora_alpha ${alpha} must be a positive number`);
  if (typeof scale !== 'number' || !Number.isFinite(scale) || Math.abs(scale) > LORA_LIMITS.maxScale)
    throw new LoraAdapterError(`${where}: scale ${scale} must be finite and at most ${LORA_LIMITS.maxScale}`);
  if (!Array.isArray(lora.targetModules) || lora.targetModules.length === 0)
    throw new LoraAdapterError(`${where}: targetModules is empty`);
  const targets = new Set<string>();
  for (const m of lora.targetModules) {
    if (typeof m !== 'string' || !isLoraModule(m))
      throw new LoraAdapterError(
        `${where}: target module ${JSON.stringify(m)} is not one of ${Object.keys(LORA_MODULES).join(', ')}`,
      );
    targets.add(m);
  }
  const a = new Map<string, Float32Array>();
  const b = new Map<string, Float32Array>();
  let values = 0;
  for (const [tensor, data] of lora.tensors) {
    const p = parsePeftName(tensor);
    if (!p) throw new LoraAdapterError(`${where}: ${JSON.stringify(tensor)} is not a PEFT LoRA tensor name`);
    if (!targets.has(p.module))
      throw new LoraAdapterError(`${where}: ${tensor} targets ${p.module}, which is not in targetModules`);
    if (p.layer >= cfg.nLayer)
      throw new LoraAdapterError(`${where}: ${tensor} is for layer ${p.layer}; the model has ${cfg.nLayer}`);
    if (!(data instanceof Float32Array))
      throw new LoraAdapterError(`${where}: ${tensor} is not a Float32Array`);
    const d = moduleDims(cfg, p.module);
    const want = p.which === 'A' ? rank * d.inFeatures : d.outFeatures * rank;
    if (data.length !== want) {
      const shape = p.which === 'A' ? `[${rank}, ${d.inFeatures}]` : `[${d.outFeatures}, ${rank}]`;
      throw new LoraAdapterError(
        `${where}: ${tensor} has ${data.length} values; the model needs ${shape} = ${want} (wrong base model?)`,
      );
    }
    values += data.length;
    if (values > LORA_LIMITS.maxValues)
      throw new LoraAdapterError(`${where}: more than ${LORA_LIMITS.maxValues} values`);
    if (!allFinite(data)) throw new LoraAdapterError(`${where}: ${tensor} contains NaN or infinite values`);
    (p.which === 'A' ? a : b).set(`${p.layer}:${p.module}`, data);
  }
  const pairs: LoraPair[] = [];
  for (const [key, am] of a) {
    const bm = b.get(key);
    const [layer, module] = key.split(':') as [string, LoraModule];
    if (!bm) throw new LoraAdapterError(`${where}: layer ${layer} ${module} has lora_A but no lora_B`);
    pairs.push({ layer: Number(layer), module, a: am, b: bm });
  }
  for (const key of b.keys()) {
    if (!a.has(key)) {
      const [layer, module] = key.split(':');
      throw new LoraAdapterError(`${where}: layer ${layer} ${module} has lora_B but no lora_A`);
    }
  }
  if (pairs.length === 0) throw new LoraAdapterError(`${where}: no LoRA tensors`);
  pairs.sort((x, y) => x.layer - y.layer || x.module.localeCompare(y.module));
  return { name, rank, alpha, factor: (scale * alpha) / rank, pairs };
}

/** The stacked low-rank term of one module: out += B·(A·x), A [rank, in], B [out, rank] (factors folded in). */
export interface StackedLora {
  layer: number;
  module: LoraModule;
  inFeatures: number;
  outFeatures: number;
  rank: number;
  a: Float32Array;
  b: Float32Array;
}

/**
 * Stacks validated adapters per module (A rows concatenated; B columns concatenated and multiplied
 * by each adapter's factor). Modules no adapter touches are absent.
 */
export function stackAdapters(adapters: readonly ValidatedAdapter[], cfg: LoraModelDims): StackedLora[] {
  const byKey = new Map<
    string,
    { layer: number; module: LoraModule; parts: [LoraPair, ValidatedAdapter][] }
  >();
  for (const ad of adapters) {
    for (const p of ad.pairs) {
      const key = `${p.layer}:${p.module}`;
      let e = byKey.get(key);
      if (!e) byKey.set(key, (e = { layer: p.layer, module: p.module, parts: [] }));
      e.parts.push([p, ad]);
    }
  }
  const out: StackedLora[] = [];
  for (const { layer, module, parts } of byKey.values()) {
    const { inFeatures, outFeatures } = moduleDims(cfg, module);
    const rank = parts.reduce((s, [, ad]) => s + ad.rank, 0);
    const a = new Float32Array(rank * inFeatures);
    const b = new Float32Array(outFeatures * rank);
    let off = 0;
    for (const [p, ad] of parts) {
      a.set(p.a, off * inFeatures);
      for (let r = 0; r < outFeatures; r++) {
        for (let j = 0; j < ad.rank; j++) b[r * rank + off + j] = p.b[r * ad.rank + j]! * ad.factor;
      }
      off += ad.rank;
    }
    out.push({ layer, module, inFeatures, outFeatures, rank, a, b });
  }
  return out.sort((x, y) => x.layer - y.layer || x.module.localeCompare(y.module));
}
