/**
 * What an architecture is, as data: which tensors and norms a block has, how it rotates q and k,
 * which layers attend through a sliding window, its activation, soft-caps and embedding scale, and
 * which `<arch>.*` metadata keys carry the arch-specific values. config.ts turns a spec and a GGUF's
 * metadata into a ModelConfig; the forward pass, the CPU reference and the weight loader read only
 * that config, never the architecture's name.
 */

export type Activation = 'silu' | 'gelu-tanh';

/** RMSNorms a decoder block applies (llama.cpp's attn_norm, post_attention_norm, ffn_norm, …). */
export interface BlockNorms {
  /** `attn_norm` before q/k/v. */
  preAttn: boolean;
  /** `post_attention_norm` on the attention output before the residual add. */
  postAttn: boolean;
  /** `ffn_norm` before gate/up. */
  preFfn: boolean;
  /** `post_ffw_norm` on the FFN output before the residual add. */
  postFfn: boolean;
  /** Per-head `attn_q_norm` / `attn_k_norm` before RoPE. */
  qk: boolean;
}

/** Reads `<arch>.<key>` metadata (numbers, or arrays for per-layer keys). */
export interface ArchMeta {
  num(key: string, fallback?: number): number;
  has(key: string): boolean;
  /** A per-layer boolean array, or undefined when the key is absent or a scalar. */
  bools(key: string): boolean[] | undefined;
}

/** Hyper-parameters a spec's hooks may depend on. */
export interface ArchHparams {
  nLayer: number;
  nEmbd: number;
  nHead: number;
  headDim: number;
  /** `rope.freq_base` (the global layers' base). */
  ropeBase: number;
  /** llama.cpp's rope_freq_scale_train: 1 / `rope.scaling.factor` (1 without one). */
  freqScaleTrain: number;
}

/** Sliding-window attention as llama.cpp's LLAMA_SWA_TYPE_STANDARD with a per-layer pattern. */
export interface SwaPlan {
  /** Keys attended by a sliding layer, the current position included (n_swa). */
  window: number;
  /** Per layer: whether it slides (llama.cpp's is_swa). */
  isSwa: boolean[];
  /** RoPE base and frequency scale of the sliding layers (rope_freq_base/scale_train_swa). */
  localBase: number;
  localScale: number;
}

export interface ArchSpec {
  name: string;
  norms: BlockNorms;
  /** q/k/v biases: every layer must have them ('required') or may ('optional'). */
  qkvBias: 'required' | 'optional';
  /** NEOX rotation (pairs i, i + n_rot/2) instead of adjacent pairs. */
  ropeNeox: boolean;
  /** Whether RoPE divides by the optional `rope_freqs.weight` (llama.cpp passes it only for some). */
  ropeFactors: boolean;
  activation: Activation;
  /** Token embeddings multiplied by √n_embd (Gemma). */
  embedScaleSqrt: boolean;
  /** Metadata keys (after `<arch>.`) of the attention and final logit soft-caps; absent = none. */
  softcaps: { attn?: string; final?: string };
  /** The sliding-window plan, or undefined when every layer is global. */
  swa?: (m: ArchMeta, h: ArchHparams) => SwaPlan | undefined;
  /** When sliding windows are on, only the sliding layers rotate (EXAONE 4.0's global layers use no RoPE). */
  ropeOnlySwa?: boolean;
  /** Scale of q·k (default 1/√head_dim); Gemma's 27B models use 1/√(n_embd/n_head). */
  attnScale?: (h: ArchHparams) => number;
}

/**
 * llama.cpp's load_swa_pattern: an array `attention.sliding_window_pattern` gives every layer;
 * a number n (or the arch default) makes layer il slide unless it is the last of each group of n
 * (dense_first: unless it is the first).
 */
export function swaPattern(m: ArchMeta, nLayer: number, period: number, denseFirst = false): boolean[] {
  const key = 'attention.sliding_window_pattern';
  const arr = m.bools(key);
  if (arr) return Array.from({ length: nLayer }, (_, i) => !!arr[i]);
  const n = m.num(key, period);
  return Array.from({ length: nLayer }, (_, il) =>
    n === 0 ? true : denseFirst ? il % n !== 0 : il % n < n - 1,
  );
}

/** Gemma's query scale: 1/√head_dim, or 1/√(n_embd/n_head) for the 27B size (`layers27b` layers). */
export function gemmaAttnScale(layers27b: number): (h: ArchHparams) => number {
  return (h) => 1 / Math.sqrt(h.nLayer === layers27b ? Math.floor(h.nEmbd / h.nHead) : h.headDim);
}

export const PLAIN_NORMS: BlockNorms = {
  preAttn: true,
  postAttn: false,
  preFfn: true,
  postFfn: false,
  qk: false,
};
