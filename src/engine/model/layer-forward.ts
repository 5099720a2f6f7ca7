/**
 * The forward op of each layer-graph node kind, shared by inference (forward.ts) and the LoRA
 * trainer: a walker binds the graph's value names to buffers and says what goes after a projection
 * (inference: a LoRA hook; trainer: the LoRA term with its saved x·Aᵀ) and before a residual add
 * (trainer: a copy, so the stream before the add stays for backward; inference: nothing).
 */
import type { Dispatch, Ops } from '../gpu/ops.ts';
import { ropeHeads, type ModelConfig } from './config.ts';
import type { EndNode, GraphValue, LayerNode } from './layer-graph.ts';
import type { LayerWeights, ModelWeights } from './weights.ts';

export type ProjNode = Extract<LayerNode, { kind: 'proj' }>;

export interface LayerBindings<E> {
  ops: Ops;
  cfg: ModelConfig;
  weights: LayerWeights;
  value(v: GraphValue): GPUBuffer;
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  /** This layer's RoPE cos/sin table (an identity table for a layer without RoPE). */
  cosSin: GPUBuffer;
  kvF16?: boolean;
  /** Split-KV decode scratch (inference only). */
  partials?: GPUBuffer;
  /** What follows projection `node` (its LoRA term), given its input and output buffers. */
  afterProj(node: ProjNode, x: GPUBuffer, out: GPUBuffer): Promise<E[]> | E[];
  /** What precedes a node adding into the residual stream `to` (which starts as `from`). */
  beforeResidual(from: GPUBuffer, to: GPUBuffer): Promise<E[]> | E[];
}

/** The dispatches (and walker entries) of one node, in order. */
export async function nodeForward<E>(n: LayerNode, b: LayerBindings<E>): Promise<(Dispatch | E)[]> {
  const { ops, cfg, weights: L } = b;
  const v = b.value;
  switch (n.kind) {
    case 'norm':
      return [
        await ops.rmsnorm({ x: v(n.x), weight: L[n.weight]!, out: v(n.out), n: cfg.nEmbd, eps: cfg.eps }),
      ];
    case 'head_norm':
      return [
        await ops.rmsnorm({
          x: v(n.x),
          weight: L[n.weight]!,
          out: v(n.out),
          n: cfg.headDim,
          eps: cfg.eps,
          rowsPerToken: n.heads === 'q' ? cfg.nHead : cfg.nKv,
        }),
      ];
    case 'proj': {
      const x = v(n.x);
      const out = v(n.out);
      const bias = n.bias ? L[n.bias] : undefined;
      // A projection reading the residual stream itself (no pre-norm) never rounds it to f16.
      const raw = n.x.startsWith('res_') ? { f16: false } : {};
      const pre = n.residual ? await b.beforeResidual(v(n.residual.from), out) : [];
      return [
        ...pre,
        ...(await ops.matmul({
          weight: L[n.weight],
          x,
          out,
          ...raw,
          ...(bias ? { bias } : {}),
          ...(n.residual ? { accumulate: true } : {}),
        })),
        ...(await b.afterProj(n, x, out)),
      ];
    }
    case 'rope_store':
      return [
        await ops.ropeStore({
          q: v('q'),
          k: v('k'),
          v: v('v'),
          kCache: b.kCache,
          vCache: b.vCache,
          cosSin: b.cosSin,
          ...ropeHeads(cfg),
          kvF16: !!b.kvF16,
        }),
      ];
    case 'attention':
      return ops.attention({
        q: v('q'),
        kCache: b.kCache,
        vCache: b.vCache,
        out: v('attn'),
        nHead: cfg.nHead,
        nKv: cfg.nKv,
        headDim: cfg.headDim,
        scale: cfg.attnScale,
        softcap: cfg.attnSoftcap,
        window: n.window,
        kvF16: !!b.kvF16,
        ...(b.partials ? { partials: b.partials } : {}),
      });
    case 'post_norm': {
      const to = v(n.residual.to);
      return [
        ...(await b.beforeResidual(v(n.residual.from), to)),
        await ops.rmsnorm({
          x: v(n.x),
          weight: L[n.weight]!,
          out: to,
          n: cfg.nEmbd,
          eps: cfg.eps,
          add: true,
        }),
      ];
    }
    case 'glu':
      return [
        await ops.gatedActivation({
          gate: v('gate'),
          up: v('up'),
          out: v('act'),
          nFf: cfg.nFf,
          gelu: n.gelu,
        }),
      ];
  }
}

/** Every node of a layer in order. */
export async function layerForward<E>(
  nodes: readonly LayerNode[],
  b: LayerBindings<E>,
): Promise<(Dispatch | E)[]> {
  const out: (Dispatch | E)[] = [];
  for (const n of nodes) out.push(...(await nodeForward(n, b)));
  return out;
}

export interface EndBindings {
  ops: Ops;
  cfg: ModelConfig;
  weights: ModelWeights;
  ids: GPUBuffer;
  /** The residual stream (the embedding's output, the final norm's input). */
  hidden: GPUBuffer;
  normed: GPUBuffer;
  logits: GPUBuffer;
  /** Inference needs only the last position's logits. */
  lastToken?: boolean;
}

/** The forward ops of the model's end nodes. */
export async function endForward(nodes: readonly EndNode[], b: EndBindings): Promise<Dispatch[]> {
  const { ops, cfg, weights: w } = b;
  const out: Dispatch[] = [];
  for (const n of nodes) {
    if (n.kind === 'embed')
      out.push(...(await ops.embedding({ table: w.tokenEmbd, ids: b.ids, out: b.hidden, scale: n.scale })));
    else if (n.kind === 'final_norm')
      out.push(
        await ops.rmsnorm({
          x: b.hidden,
          weight: w.outputNorm,
          out: b.normed,
          n: cfg.nEmbd,
          eps: cfg.eps,
          ...(b.lastToken ? { lastToken: true } : {}),
        }),
      );
    else
      out.push(
        ...(await ops.matmul({
          weight: w.output,
          x: b.normed,
          out: b.logits,
          ...(n.softcap > 0 ? { softcap: n.softcap } : {}),
        })),
      );
  }
  return out;
}
