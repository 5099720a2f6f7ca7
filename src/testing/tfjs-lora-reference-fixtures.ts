/**
 * Shared pieces of the LoRA gradient tests and the training benchmark: a random non-zero adapter,
 * a batch of examples with masked prompts, and the float64 yardstick — the loss of the CPU
 * reference model (src/testing/cpu-forward.ts) with the adapter merged into its weights
 * (W' = W + (alpha/rank)·B·A), whose central finite differences decide which gradient is right.
 */
import { GgmlType, type ByteSource, type GgufFile, type GgufTensorInfo } from '../engine/gguf/types.ts';
import { dequantize } from '../engine/gguf/quant/index.ts';
import type { ModelConfig } from '../engine/model/config.ts';
import { peftTensorName, seededLoraA } from '../protocol/lora.ts';
import type { LoraTensors, TrainExample } from '../training/api.ts';
import { CpuReferenceModel } from './cpu-forward.ts';
import { moduleDims } from '../training/lora-layout.ts';

export const ALL_TARGET_MODULES = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
] as const;

const MODULE_TENSOR: Record<string, string> = {
  q_proj: 'attn_q',
  k_proj: 'attn_k',
  v_proj: 'attn_v',
  o_proj: 'attn_output',
  gate_proj: 'ffn_gate',
  up_proj: 'ffn_up',
  down_proj: 'ffn_down',
};

/** Deterministic uniform numbers in [-0.5, 0.5) (an LCG: reproducible across JS engines). */
function uniform(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/**
 * A LoRA adapter with PEFT-initialised A (seeded) and random non-zero B (uniform, ±bScale/2), so
 * both A's and B's gradients are non-trivial.
 */
export function randomAdapter(
  cfg: ModelConfig,
  opts: { rank?: number; alpha?: number; seed?: number; bScale?: number; targets?: readonly string[] } = {},
): LoraTensors {
  const rank = opts.rank ?? 4;
  const seed = opts.seed ?? 1;
  const targets = opts.targets ?? ALL_TARGET_MODULES;
  const rnd = uniform(seed * 7 + 3);
  const tensors = new Map<string, Float32Array>();
  for (let layer = 0; layer < cfg.nLayer; layer++) {
    for (const m of targets) {
      const [inF, outF] = moduleDims(cfg, m);
      const a = peftTensorName(layer, m, 'A');
      tensors.set(a, seededLoraA(seed, a, rank, inF));
      tensors.set(
        peftTensorName(layer, m, 'B'),
        Float32Array.from({ length: outF * rank }, () => rnd() * (opts.bScale ?? 0.2)),
      );
    }
  }
  return { rank, alpha: opts.alpha ?? 2 * rank, targetModules: [...targets], tensors };
}

/**
 * Examples of the given lengths whose first `prompt` tokens are context only (lossMask 0) and
 * whose remaining tokens are trained on, with pseudo-random ids below `nVocab`.
 */
export function exampleBatch(
  nVocab: number,
  shapes: ReadonlyArray<{ length: number; prompt: number }>,
  seed = 1,
): TrainExample[] {
  const rnd = uniform(seed * 13 + 5);
  return shapes.map(({ length, prompt }) => {
    const ids = Uint32Array.from({ length }, () => Math.floor((rnd() + 0.5) * nVocab) % nVocab);
    const lossMask = Uint8Array.from({ length }, (_, t) => (t >= prompt ? 1 : 0));
    return { ids, lossMask };
  });
}

/** A source that answers reads at patched offsets from memory (merged weights), others from `inner`. */
class PatchedSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly inner: ByteSource,
    private readonly patches: Map<number, Uint8Array>,
  ) {
    this.size = inner.size;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    const p = this.patches.get(offset);
    if (p && p.byteLength === length) return Promise.resolve(p);
    return this.inner.read(offset, length);
  }
}

/**
 * The float64 CPU reference of a GGUF with a LoRA adapter merged into its weights: every target
 * weight becomes the F32 tensor W + (alpha/rank)·B·A (computed in float64, rounded once).
 * Merging is a different formulation from the low-rank term both the trainer and the tfjs
 * reference use, so agreement also checks where B·A lands (rows = GGUF output rows).
 */
export class MergedCpuModel {
  readonly #file: GgufFile;
  readonly #base = new Map<string, Float32Array>();
  /** Merged weights by lora_A array, reused while B and the scale are the same (finite differences). */
  readonly #mergedCache = new WeakMap<
    Float32Array,
    { b: Float32Array; scale: number; merged: Float32Array }
  >();

  private constructor(file: GgufFile) {
    this.#file = file;
  }

  static async load(file: GgufFile): Promise<MergedCpuModel> {
    const m = new MergedCpuModel(file);
    for (const t of file.tensors) {
      if (/^blk\.\d+\.(attn_[qkv]|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/.test(t.name))
        m.#base.set(t.name, dequantize(t.type, await file.source.read(t.offset, t.byteLength), t.elements));
    }
    return m;
  }

  /** The CPU reference model with `adapter` merged. */
  async model(adapter: LoraTensors): Promise<CpuReferenceModel> {
    const scale = adapter.alpha / adapter.rank;
    const r = adapter.rank;
    const patches = new Map<number, Uint8Array>();
    const infos = new Map<string, GgufTensorInfo>();
    for (const [name, a] of adapter.tensors) {
      const m = /^base_model\.model\.model\.layers\.(\d+)\.\w+\.(\w+)\.lora_A\.weight$/.exec(name);
      if (!m) continue;
      const b = adapter.tensors.get(name.replace('lora_A', 'lora_B'))!;
      const target = `blk.${m[1]!}.${MODULE_TENSOR[m[2]!]!}.weight`;
      const w = this.#base.get(target)!;
      const info = this.#file.tensors.find((t) => t.name === target)!;
      const [inF, outF] = [info.dims[0]!, info.dims[1]!];
      const cached = this.#mergedCache.get(a);
      let merged: Float32Array;
      if (cached && cached.b === b && cached.scale === scale) merged = cached.merged;
      else {
        merged = new Float32Array(w.length);
        const col = new Float64Array(inF);
        for (let o = 0; o < outF; o++) {
          col.fill(0);
          for (let k = 0; k < r; k++) {
            const bk = b[o * r + k]!;
            for (let i = 0; i < inF; i++) col[i] = col[i]! + bk * a[k * inF + i]!;
          }
          for (let i = 0; i < inF; i++) merged[o * inF + i] = w[o * inF + i]! + scale * col[i]!;
        }
        this.#mergedCache.set(a, { b, scale, merged });
      }
      patches.set(info.offset, new Uint8Array(merged.buffer));
      infos.set(target, { ...info, type: GgmlType.F32, byteLength: merged.byteLength });
    }
    const file: GgufFile = {
      ...this.#file,
      tensors: this.#file.tensors.map((t) => infos.get(t.name) ?? t),
      source: new PatchedSource(this.#file.source, patches),
    };
    return CpuReferenceModel.load(file);
  }

  /** Mean masked cross-entropy in float64, spelled out from the contract in src/training/api.ts. */
  async loss(adapter: LoraTensors, examples: readonly TrainExample[]): Promise<number> {
    const model = await this.model(adapter);
    let sum = 0;
    let tokens = 0;
    for (const ex of examples) {
      model.reset();
      for (let t = 0; t + 1 < ex.ids.length; t++) {
        const logits = model.step(ex.ids[t]!, t);
        if (ex.lossMask[t + 1] !== 1) continue;
        let max = -Infinity;
        for (const z of logits) max = Math.max(max, z);
        let se = 0;
        for (const z of logits) se += Math.exp(z - max);
        sum += max + Math.log(se) - logits[ex.ids[t + 1]!]!;
        tokens++;
      }
    }
    return sum / tokens;
  }

  /** Central difference ∂loss/∂adapter[name][index] with step h, in float64. */
  async finiteDifference(
    adapter: LoraTensors,
    examples: readonly TrainExample[],
    name: string,
    index: number,
    h: number,
  ): Promise<number> {
    const at = async (delta: number) => {
      const t = new Float32Array(adapter.tensors.get(name)!);
      t[index] = t[index]! + delta;
      // The step actually taken after float32 rounding of the perturbed entry.
      return {
        loss: await this.loss({ ...adapter, tensors: new Map(adapter.tensors).set(name, t) }, examples),
        x: t[index]!,
      };
    };
    const plus = await at(h);
    const minus = await at(-h);
    return (plus.loss - minus.loss) / (plus.x - minus.x);
  }
}

/** ‖a − b‖ / ‖b‖. */
export function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}
