/**
 * Dure's Korean demo model as float32 tensors in GGUF (ggml) layout: its shape and metadata, the
 * random base, LoRA merging (W' = W + (alpha/r)·B·A), and Q8_0 export. Used by
 * scripts/train-demo-model.ts; tested in model.test.ts.
 *
 * Layout note: a ggml 2-D weight with dims [in, out] is stored row-major with one row per output,
 * exactly PyTorch's [out, in] `weight`, so PEFT's lora_B [out, r] · lora_A [r, in] adds to it
 * element for element. The model is born in GGUF layout and trained there, so no Q/K
 * permutation (the one llama.cpp's HF converter applies) is involved.
 */
import { DureError } from '../../src/engine/errors.ts';
import { dequantize } from '../../src/engine/gguf/quant/index.ts';
import { quantize } from '../../src/tools/gguf/quantize.ts';
import type { KvList } from '../../src/tools/gguf/hf-tokenizer.ts';
import { GgmlType, GgufValueType, type GgufFile } from '../../src/engine/gguf/types.ts';
import { kv, writeGguf, type GgufTensorInput } from '../../src/tools/gguf/writer.ts';
import type { ModelShape } from '../../src/protocol/lora.ts';
import type { LoraTensors } from '../../src/training/api.ts';

export interface DemoShape {
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  nFf: number;
  contextLength: number;
}

/** A tensor in ggml dims order with float32 data. */
export interface FloatTensor {
  dims: number[];
  data: Float32Array;
}
export type Weights = Map<string, FloatTensor>;

/** A tensor is missing, has the wrong shape, or an adapter does not fit the model. */
export class DemoModelError extends DureError {
  override name = 'DemoModelError';
  constructor(message: string) {
    super('DEMO_MODEL', message);
  }
}

/** PEFT target module → llama.cpp tensor suffix. */
export const MODULE_TENSORS: Record<string, string> = {
  q_proj: 'attn_q',
  k_proj: 'attn_k',
  v_proj: 'attn_v',
  o_proj: 'attn_output',
  gate_proj: 'ffn_gate',
  up_proj: 'ffn_up',
  down_proj: 'ffn_down',
};
export const ALL_MODULES = Object.keys(MODULE_TENSORS);

/** In/out features of each target module (for `initialAdapter` and the trainer). */
export function loraModelShape(s: DemoShape): ModelShape {
  const q = s.nHead * s.headDim;
  const kvDim = s.nHeadKv * s.headDim;
  return {
    numLayers: s.nLayer,
    modules: {
      q_proj: { inFeatures: s.nEmbd, outFeatures: q },
      k_proj: { inFeatures: s.nEmbd, outFeatures: kvDim },
      v_proj: { inFeatures: s.nEmbd, outFeatures: kvDim },
      o_proj: { inFeatures: q, outFeatures: s.nEmbd },
      gate_proj: { inFeatures: s.nEmbd, outFeatures: s.nFf },
      up_proj: { inFeatures: s.nEmbd, outFeatures: s.nFf },
      down_proj: { inFeatures: s.nFf, outFeatures: s.nEmbd },
    },
  };
}

/** The llama.cpp metadata of the demo model (llama architecture) with its tokenizer. */
export function demoMetadata(
  shape: DemoShape,
  tokenizer: KvList,
  nVocab: number,
  info: { name: string; description?: string },
): KvList {
  const a = 'llama';
  const md: KvList = [
    ['general.architecture', kv.str(a)],
    ['general.name', kv.str(info.name)],
    ['general.file_type', kv.u32(7)], // MOSTLY_Q8_0
    ['general.quantization_version', kv.u32(2)],
    [`${a}.context_length`, kv.u32(shape.contextLength)],
    [`${a}.embedding_length`, kv.u32(shape.nEmbd)],
    [`${a}.block_count`, kv.u32(shape.nLayer)],
    [`${a}.feed_forward_length`, kv.u32(shape.nFf)],
    [`${a}.attention.head_count`, kv.u32(shape.nHead)],
    [`${a}.attention.head_count_kv`, kv.u32(shape.nHeadKv)],
    [`${a}.attention.key_length`, kv.u32(shape.headDim)],
    [`${a}.attention.value_length`, kv.u32(shape.headDim)],
    [`${a}.attention.layer_norm_rms_epsilon`, kv.f32(1e-5)],
    [`${a}.rope.freq_base`, kv.f32(10000)],
    [`${a}.rope.dimension_count`, kv.u32(shape.headDim)],
    [`${a}.vocab_size`, kv.u32(nVocab)],
  ];
  if (info.description) md.splice(2, 0, ['general.description', kv.str(info.description)]);
  return [...md, ...tokenizer];
}

/** Stable 32-bit hash of a string (FNV-1a), so each tensor gets its own random stream. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Seeded normal samples (splitmix32 + Box–Muller). */
export function gaussian(n: number, std: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (((z ^ (z >>> 16)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u())) * std;
    const t = 2 * Math.PI * u();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** Names and ggml dims of every tensor of the demo model, in file order. */
export function tensorLayout(s: DemoShape, nVocab: number): { name: string; dims: number[] }[] {
  const q = s.nHead * s.headDim;
  const kvDim = s.nHeadKv * s.headDim;
  const out = [
    { name: 'token_embd.weight', dims: [s.nEmbd, nVocab] },
    { name: 'output_norm.weight', dims: [s.nEmbd] },
    { name: 'output.weight', dims: [s.nEmbd, nVocab] },
  ];
  for (let i = 0; i < s.nLayer; i++) {
    const p = `blk.${i}`;
    out.push(
      { name: `${p}.attn_norm.weight`, dims: [s.nEmbd] },
      { name: `${p}.attn_q.weight`, dims: [s.nEmbd, q] },
      { name: `${p}.attn_k.weight`, dims: [s.nEmbd, kvDim] },
      { name: `${p}.attn_v.weight`, dims: [s.nEmbd, kvDim] },
      { name: `${p}.attn_output.weight`, dims: [q, s.nEmbd] },
      { name: `${p}.ffn_norm.weight`, dims: [s.nEmbd] },
      { name: `${p}.ffn_gate.weight`, dims: [s.nEmbd, s.nFf] },
      { name: `${p}.ffn_up.weight`, dims: [s.nEmbd, s.nFf] },
      { name: `${p}.ffn_down.weight`, dims: [s.nFf, s.nEmbd] },
    );
  }
  return out;
}

/**
 * The random base: every matrix N(0, std²) (GPT-2's 0.02 by default), norms 1. Deterministic per seed.
 */
export function randomBase(s: DemoShape, nVocab: number, seed: number, std = 0.02): Weights {
  const w: Weights = new Map();
  for (const { name, dims } of tensorLayout(s, nVocab)) {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = dims.length === 1 ? new Float32Array(n).fill(1) : gaussian(n, std, hash32(name) ^ seed);
    w.set(name, { dims, data });
  }
  return w;
}

/**
 * Adds each adapted module's (alpha/r)·B·A to its base weight, in place.
 * @throws {DemoModelError} when an adapter tensor is missing or its shape does not fit.
 */
export function mergeAdapter(weights: Weights, adapter: LoraTensors): void {
  const r = adapter.rank;
  const scale = adapter.alpha / r;
  const re = /^base_model\.model\.model\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_A\.weight$/;
  for (const [name, a] of adapter.tensors) {
    const m = re.exec(name);
    if (!m) continue;
    const [, layer, module] = m;
    const suffix = MODULE_TENSORS[module!];
    const b = adapter.tensors.get(name.replace('lora_A', 'lora_B'));
    if (!suffix || !b) throw new DemoModelError(`adapter tensor ${name} has no base module or no lora_B`);
    const target = weights.get(`blk.${layer}.${suffix}.weight`);
    if (!target) throw new DemoModelError(`the model has no tensor for ${name}`);
    const [nIn, nOut] = target.dims as [number, number];
    if (a.length !== r * nIn || b.length !== nOut * r) {
      throw new DemoModelError(`${name}: adapter shapes do not fit the ${nOut}×${nIn} weight at rank ${r}`);
    }
    const w = target.data;
    const row = new Float64Array(nIn);
    for (let o = 0; o < nOut; o++) {
      row.fill(0);
      for (let k = 0; k < r; k++) {
        const bk = b[o * r + k]!;
        if (bk === 0) continue;
        const off = k * nIn;
        for (let i = 0; i < nIn; i++) row[i]! += bk * a[off + i]!;
      }
      const base = o * nIn;
      for (let i = 0; i < nIn; i++) w[base + i] = w[base + i]! + scale * row[i]!;
    }
  }
}

/**
 * A GGUF file of the weights: matrices in `type` (Q8_0 by default), norms in F32 as llama.cpp keeps them.
 * @throws {GgufInvalidError} from the writer for bad metadata or shapes.
 */
export function writeModel(weights: Weights, metadata: KvList, type: GgmlType = GgmlType.Q8_0): Uint8Array {
  const tensors: GgufTensorInput[] = [];
  for (const [name, t] of weights) {
    const tt = t.dims.length === 1 ? GgmlType.F32 : type;
    tensors.push({ name, dims: t.dims, type: tt, data: quantize(tt, t.data) });
  }
  return writeGguf({ metadata, tensors });
}

/**
 * Float weights of a GGUF file (dequantized): what a model written by `writeModel` really holds,
 * so a next round of LoRA merges onto exactly the weights the trainer saw.
 */
export async function readWeights(file: GgufFile): Promise<Weights> {
  const w: Weights = new Map();
  for (const t of file.tensors) {
    const bytes = await file.source.read(t.offset, t.byteLength);
    w.set(t.name, { dims: [...t.dims], data: dequantize(t.type, bytes, t.elements) });
  }
  return w;
}

/** The metadata of a read file as a writable list (order kept). */
export function metadataList(file: GgufFile): KvList {
  return [...file.metadata].filter(([k]) => k !== 'general.alignment' || file.alignment !== 32) as KvList;
}

/** Replaces (or appends) one metadata entry. */
export function setMetadata(md: KvList, key: string, value: string): void {
  const i = md.findIndex(([k]) => k === key);
  const entry: [string, { type: GgufValueType; value: string }] = [
    key,
    { type: GgufValueType.STRING, value },
  ];
  if (i >= 0) md[i] = entry;
  else md.push(entry);
}
