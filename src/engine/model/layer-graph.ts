/**
 * One decoder layer as data: the ordered nodes (norms, projections with their LoRA slot, q/k head
 * norms, RoPE + KV store, attention, residual adds, gated FFN) derived from a ModelConfig and the
 * tensors a layer actually has. The inference forward pass (forward.ts) and the LoRA trainer
 * (training/trainer.ts) are both built by walking this list — the trainer forward, then in reverse
 * for backward — so neither holds its own ordering of a layer. Values between nodes are named
 * (GraphValue); each walker binds the names to its buffers (inference: one shared set, the residual
 * stream updated in place; trainer: per-layer buffers it keeps for backward).
 */
import type { LoraModule } from '../lora/adapter.ts';
import type { ModelConfig } from './config.ts';
import type { LayerWeights } from './weights.ts';

/** Names of the tensors between a layer's nodes. */
export type GraphValue =
  /** The residual stream entering the layer, after the attention block, and leaving the layer. */
  | 'res_in'
  | 'res_mid'
  | 'res_out'
  /** attn_norm / ffn_norm outputs (absent without pre-norms: projections read the residual). */
  | 'xn_attn'
  | 'xn_ffn'
  /** q and k before their per-head norms (only with q/k norms). */
  | 'q_raw'
  | 'k_raw'
  /** q, k, v as RoPE takes them; RoPE rotates q in place and stores k, v in the layer's cache. */
  | 'q'
  | 'k'
  | 'v'
  | 'kv_cache'
  | 'attn'
  /** attn_output / ffn_down products before a post-norm. */
  | 'o'
  | 'down'
  | 'gate'
  | 'up'
  | 'act';

/** Width per token of a value: n_embd, n_head·head_dim, n_kv·head_dim or n_ff. */
export function valueWidth(cfg: ModelConfig, v: GraphValue): number {
  switch (v) {
    case 'q_raw':
    case 'q':
    case 'attn':
      return cfg.nHead * cfg.headDim;
    case 'k_raw':
    case 'k':
    case 'v':
    case 'kv_cache':
      return cfg.nKv * cfg.headDim;
    case 'gate':
    case 'up':
    case 'act':
      return cfg.nFf;
    default:
      return cfg.nEmbd;
  }
}

/** A node that adds into the residual stream: `to` = `from` + its output. */
export interface ResidualAdd {
  from: 'res_in' | 'res_mid';
  to: 'res_mid' | 'res_out';
}

/**
 * Node runs inference may replace by one fused kernel (a graph-level rewrite in forward.ts):
 * 'qkv' = attn_norm … rope_store, 'glu' = ffn_norm … glu.
 */
export type FuseGroup = 'qkv' | 'glu';

export type ProjWeight = 'wq' | 'wk' | 'wv' | 'wo' | 'wGate' | 'wUp' | 'wDown';

export type LayerNode =
  | {
      kind: 'norm';
      name: 'attn_norm' | 'ffn_norm';
      weight: 'attnNorm' | 'ffnNorm';
      x: GraphValue;
      out: GraphValue;
      fuse: FuseGroup;
    }
  | {
      kind: 'proj';
      name: LoraModule;
      weight: ProjWeight;
      bias?: 'bq' | 'bk' | 'bv';
      x: GraphValue;
      out: GraphValue;
      /** Accumulates into the residual stream (out is residual.to). */
      residual?: ResidualAdd;
      fuse?: FuseGroup;
    }
  | {
      kind: 'head_norm';
      name: 'q_norm' | 'k_norm';
      weight: 'qNorm' | 'kNorm';
      x: 'q_raw' | 'k_raw';
      out: 'q' | 'k';
      /** Rows per token: n_head for q, n_kv for k. */
      heads: 'q' | 'kv';
      fuse: 'qkv';
    }
  | { kind: 'rope_store'; name: 'rope_store'; fuse: 'qkv' }
  | { kind: 'attention'; name: 'attention'; window: number }
  | {
      kind: 'post_norm';
      name: 'post_attention_norm' | 'post_ffw_norm';
      weight: 'attnPostNorm' | 'ffnPostNorm';
      x: 'o' | 'down';
      residual: ResidualAdd;
    }
  | { kind: 'glu'; name: 'glu'; gelu: boolean; fuse: 'glu' };

export type LayerNodeKind = LayerNode['kind'];

/** How each sub-block leaves: its output projection, the post-norm it may have, its residual add. */
const SUB_BLOCK_EXITS = {
  attn: {
    name: 'o_proj',
    weight: 'wo',
    x: 'attn',
    raw: 'o',
    post: { name: 'post_attention_norm', weight: 'attnPostNorm' },
    residual: { from: 'res_in', to: 'res_mid' },
  },
  ffn: {
    name: 'down_proj',
    weight: 'wDown',
    x: 'act',
    raw: 'down',
    post: { name: 'post_ffw_norm', weight: 'ffnPostNorm' },
    residual: { from: 'res_mid', to: 'res_out' },
  },
} as const;

/** Which optional tensors a layer has (a GPU LayerWeights, or presence flags in tests). */
export type LayerTensors = Partial<Record<keyof LayerWeights, unknown>>;

/** The optional tensors a layer of `cfg` has when the file holds what its spec expects. */
export function expectedTensors(cfg: ModelConfig): LayerTensors {
  const bias = cfg.qkvBias === 'required';
  return {
    attnNorm: cfg.norms.preAttn,
    ffnNorm: cfg.norms.preFfn,
    attnPostNorm: cfg.norms.postAttn,
    ffnPostNorm: cfg.norms.postFfn,
    qNorm: cfg.norms.qk,
    kNorm: cfg.norms.qk,
    bq: bias,
    bk: bias,
    bv: bias,
  };
}

/**
 * The nodes of decoder layer `layer`, in execution order. What a layer does follows the tensors it
 * has (a file with q/k norms on some layers only runs each layer as written); `t` defaults to what
 * the architecture's spec expects.
 */
export function buildLayerGraph(
  cfg: ModelConfig,
  layer: number,
  t: LayerTensors = expectedTensors(cfg),
): LayerNode[] {
  const nodes: LayerNode[] = [];
  const qk = !!(t.qNorm && t.kNorm);
  const xAttn: GraphValue = t.attnNorm ? 'xn_attn' : 'res_in';
  if (t.attnNorm)
    nodes.push({
      kind: 'norm',
      name: 'attn_norm',
      weight: 'attnNorm',
      x: 'res_in',
      out: 'xn_attn',
      fuse: 'qkv',
    });
  const proj = (
    name: 'q_proj' | 'k_proj' | 'v_proj',
    weight: 'wq' | 'wk' | 'wv',
    bias: 'bq' | 'bk' | 'bv',
    out: GraphValue,
  ) => nodes.push({ kind: 'proj', name, weight, ...(t[bias] ? { bias } : {}), x: xAttn, out, fuse: 'qkv' });
  proj('q_proj', 'wq', 'bq', qk ? 'q_raw' : 'q');
  proj('k_proj', 'wk', 'bk', qk ? 'k_raw' : 'k');
  proj('v_proj', 'wv', 'bv', 'v');
  if (qk) {
    nodes.push({
      kind: 'head_norm',
      name: 'q_norm',
      weight: 'qNorm',
      x: 'q_raw',
      out: 'q',
      heads: 'q',
      fuse: 'qkv',
    });
    nodes.push({
      kind: 'head_norm',
      name: 'k_norm',
      weight: 'kNorm',
      x: 'k_raw',
      out: 'k',
      heads: 'kv',
      fuse: 'qkv',
    });
  }
  nodes.push({ kind: 'rope_store', name: 'rope_store', fuse: 'qkv' });
  nodes.push({ kind: 'attention', name: 'attention', window: cfg.layers[layer]?.window ?? 0 });
  // A sub-block's exit: its output projection either adds straight into the residual, or goes
  // through a post-norm that does the adding (gemma2/3, exaone4).
  const exit = (e: (typeof SUB_BLOCK_EXITS)[keyof typeof SUB_BLOCK_EXITS]) => {
    if (t[e.post.weight]) {
      nodes.push({ kind: 'proj', name: e.name, weight: e.weight, x: e.x, out: e.raw });
      nodes.push({ kind: 'post_norm', ...e.post, x: e.raw, residual: e.residual });
    } else {
      nodes.push({
        kind: 'proj',
        name: e.name,
        weight: e.weight,
        x: e.x,
        out: e.residual.to,
        residual: e.residual,
      });
    }
  };
  exit(SUB_BLOCK_EXITS.attn);
  const xFfn: GraphValue = t.ffnNorm ? 'xn_ffn' : 'res_mid';
  if (t.ffnNorm)
    nodes.push({
      kind: 'norm',
      name: 'ffn_norm',
      weight: 'ffnNorm',
      x: 'res_mid',
      out: 'xn_ffn',
      fuse: 'glu',
    });
  nodes.push({ kind: 'proj', name: 'gate_proj', weight: 'wGate', x: xFfn, out: 'gate', fuse: 'glu' });
  nodes.push({ kind: 'proj', name: 'up_proj', weight: 'wUp', x: xFfn, out: 'up', fuse: 'glu' });
  nodes.push({ kind: 'glu', name: 'glu', gelu: cfg.gelu, fuse: 'glu' });
  exit(SUB_BLOCK_EXITS.ffn);
  return nodes;
}

/** Consecutive nodes grouped by fuse group (undefined = a node that never fuses), in order. */
export function fuseRuns(nodes: readonly LayerNode[]): { fuse?: FuseGroup; nodes: LayerNode[] }[] {
  const runs: { fuse?: FuseGroup; nodes: LayerNode[] }[] = [];
  for (const n of nodes) {
    const fuse = 'fuse' in n ? n.fuse : undefined;
    const last = runs[runs.length - 1];
    if (last && fuse && last.fuse === fuse) last.nodes.push(n);
    else runs.push({ ...(fuse ? { fuse } : {}), nodes: [n] });
  }
  return runs;
}

/** The model's ends around the layers: token embedding before, final norm and logits after. */
export type EndNode =
  | { kind: 'embed'; name: 'token_embd'; scale: number }
  | { kind: 'final_norm'; name: 'output_norm' }
  | { kind: 'logits'; name: 'output'; softcap: number };

/** Embedding (scaled by √n_embd on Gemma), then the layers, then these (soft-capped logits on Gemma 2). */
export function buildEndGraph(cfg: ModelConfig): { before: EndNode[]; after: EndNode[] } {
  return {
    before: [{ kind: 'embed', name: 'token_embd', scale: cfg.embedScale }],
    after: [
      { kind: 'final_norm', name: 'output_norm' },
      { kind: 'logits', name: 'output', softcap: cfg.finalSoftcap },
    ],
  };
}
