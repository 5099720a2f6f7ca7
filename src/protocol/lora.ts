/**
 * LoRA adapter layout shared by the federated client and server: PEFT-compatible tensor names
 * and shapes for a model shape + LoRA config, and the seeded initialisation of `lora_A`.
 *
 * Why the seed matters: averaging A and B separately is not the average of B·A. In FFA-LoRA
 * (Sun et al., 2024) every client freezes the same A (drawn from the task's seed) and trains
 * only B, so mean(Bᵢ)·A = mean(Bᵢ·A) exactly. The server and the browser must therefore draw
 * bit-identical A matrices, which is why the generator lives here.
 */
import { PEFT_MODULES, peftTensorName } from './adapter-codec.ts';
import { AdapterShapeError } from './errors.ts';

/** PEFT tensor names belong to the adapter codec (./adapter-codec.ts); re-exported here. */
export { peftTensorName };

/** Dimensions of one adaptable linear layer (PyTorch layout: weight is [out, in]). */
export interface ModuleShape {
  inFeatures: number;
  outFeatures: number;
}

/** The parts of a base model's shape a LoRA adapter depends on. */
export interface ModelShape {
  numLayers: number;
  /** Keyed by target module name, e.g. `q_proj`. */
  modules: Record<string, ModuleShape>;
}

export interface LoraConfig {
  rank: number;
  alpha: number;
  targetModules: string[];
  /** Seed for lora_A initialisation (shared by every participant). */
  seed: number;
}

export interface TensorSpec {
  name: string;
  shape: number[];
}

/** Module names a task may target; others would not map onto PEFT names for llama-family models. */
export const KNOWN_TARGET_MODULES: string[] = [...PEFT_MODULES];

/**
 * Every tensor of an adapter in a fixed order (layer, module, A then B).
 * @throws {AdapterShapeError} if a target module has no shape or the rank is not positive.
 */
export function adapterTensorSpecs(
  model: ModelShape,
  lora: Pick<LoraConfig, 'rank' | 'targetModules'>,
  parts: { a: boolean; b: boolean } = { a: true, b: true },
): TensorSpec[] {
  if (!Number.isInteger(lora.rank) || lora.rank < 1)
    throw new AdapterShapeError(`bad LoRA rank ${lora.rank}`);
  const specs: TensorSpec[] = [];
  for (let layer = 0; layer < model.numLayers; layer++) {
    for (const m of lora.targetModules) {
      const dims = model.modules[m];
      if (!dims) throw new AdapterShapeError(`model shape has no dimensions for target module ${m}`);
      if (parts.a) specs.push({ name: peftTensorName(layer, m, 'A'), shape: [lora.rank, dims.inFeatures] });
      if (parts.b) specs.push({ name: peftTensorName(layer, m, 'B'), shape: [dims.outFeatures, lora.rank] });
    }
  }
  return specs;
}

/** Number of float32 values in a set of tensors. */
export function parameterCount(specs: ReadonlyArray<TensorSpec>): number {
  return specs.reduce((n, s) => n + s.shape.reduce((a, d) => a * d, 1), 0);
}

function fnv1a(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** splitmix32: small, fast, and identical in every JS engine (integer maths only). */
function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

/**
 * lora_A drawn like PEFT's default (Kaiming-uniform with a = √5, i.e. U(−1/√in, 1/√in)) but from
 * a seeded generator keyed by tensor name, so any party can reproduce it bit for bit.
 */
export function seededLoraA(seed: number, name: string, rank: number, inFeatures: number): Float32Array {
  const next = splitmix32(fnv1a(name, seed));
  const bound = 1 / Math.sqrt(inFeatures);
  const out = new Float32Array(rank * inFeatures);
  for (let i = 0; i < out.length; i++) out[i] = (next() * 2 - 1) * bound;
  return out;
}

/** The starting adapter of a task: seeded A, zero B (so B·A = 0 and the base model is unchanged). */
export function initialAdapter(
  model: ModelShape,
  lora: LoraConfig,
): { name: string; shape: number[]; data: Float32Array }[] {
  return adapterTensorSpecs(model, lora).map((s) =>
    s.name.endsWith('lora_A.weight')
      ? { ...s, data: seededLoraA(lora.seed, s.name, s.shape[0]!, s.shape[1]!) }
      : { ...s, data: new Float32Array(s.shape[0]! * s.shape[1]!) },
  );
}
