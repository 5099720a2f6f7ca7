/**
 * llama.cpp's Q4_K_M mix (`llama_tensor_get_type` in src/llama-quant.cpp, for an architecture
 * without experts and not Falcon), with its shape fallback (`tensor_type_fallback`): which ggml type
 * each tensor of a model quantized with `llama-quantize … Q4_K_M` gets. Written from the public
 * source so test models carry the mix real files do, e.g. Qwen2.5-0.5B, whose 896-wide rows are not
 * a multiple of 256 and so land mostly on Q5_0 and Q8_0.
 */
import { ggmlTypeTraits } from '../../engine/gguf/quant/traits.ts';
import { GgmlType } from '../../engine/gguf/types.ts';

/** llama.cpp's `use_more_bits`: layers the Q4_K_M mix keeps in Q6_K (attn_v, ffn_down). */
export function useMoreBits(i: number, n: number): boolean {
  const e = Math.floor(n / 8);
  return i < e || i >= Math.floor((7 * n) / 8) || (i - e) % 3 === 2;
}

/**
 * The type llama.cpp falls back to when a row of `nx` elements is not a whole number of `type`
 * blocks: K-quants to the nearest 32-element type, and F16 when even that does not fit.
 */
export function fallbackType(type: GgmlType, nx: number): GgmlType {
  if (nx % ggmlTypeTraits(type).blockSize === 0) return type;
  const FALLBACK: Partial<Record<GgmlType, GgmlType>> = {
    [GgmlType.Q2_K]: GgmlType.Q4_0,
    [GgmlType.Q3_K]: GgmlType.Q4_0,
    [GgmlType.Q4_K]: GgmlType.Q5_0,
    [GgmlType.Q5_K]: GgmlType.Q5_1,
    [GgmlType.Q6_K]: GgmlType.Q8_0,
  };
  const to = FALLBACK[type];
  if (to === undefined) throw new RangeError(`no fallback for ${GgmlType[type]}`);
  return nx % ggmlTypeTraits(to).blockSize === 0 ? to : GgmlType.F16;
}

export interface MixTensor {
  /** GGUF tensor name, e.g. `blk.3.attn_v.weight`. */
  name: string;
  /** Row length (ggml ne[0], the input width of a projection). */
  nx: number;
  /** Number of dimensions; 1-D tensors (norms, biases) are not quantized. */
  nDims: number;
}

/**
 * The Q4_K_M type of one tensor. `layer` and `nLayer` place attn_v / ffn_down for `use_more_bits`
 * (llama.cpp counts attn_v tensors and ffn_down tensors, one per layer here); `tiedOutput` when the
 * model has no output.weight, so the token embedding is quantized as the output.
 */
export function q4KMType(t: MixTensor, nLayer: number, tiedOutput: boolean): GgmlType {
  if (t.nDims < 2 || !t.name.endsWith('weight') || t.name.includes('_norm.weight')) return GgmlType.F32;
  const layer = Number(/^blk\.(\d+)\./.exec(t.name)?.[1] ?? -1);
  const isOutput = t.name === 'output.weight' || (tiedOutput && t.name === 'token_embd.weight');
  let type = GgmlType.Q4_K;
  if (isOutput) {
    // The output is Q6_K, or Q8_0 straight away when its rows do not fit 256-element blocks.
    return t.nx % ggmlTypeTraits(GgmlType.Q6_K).blockSize === 0 ? GgmlType.Q6_K : GgmlType.Q8_0;
  }
  if (t.name.includes('attn_v.weight') || t.name.includes('attn_qkv.weight')) {
    if (useMoreBits(layer, nLayer)) type = GgmlType.Q6_K;
  } else if (t.name.includes('ffn_down')) {
    if (useMoreBits(layer, nLayer)) type = GgmlType.Q6_K;
  }
  return fallbackType(type, t.nx);
}
